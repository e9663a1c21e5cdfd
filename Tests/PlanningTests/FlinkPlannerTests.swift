import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

private let distribution: FlinkDistribution = {
    var distribution = FlinkDistribution(home: "/flink", version: "2.3.0", java: "/usr/bin/java",
                                         classpath: ["/flink/lib/a.jar", "/flink/lib/flink-dist-2.3.0.jar"], jvmOptions: ["--add-opens=x"])
    distribution.loopbackPrometheusReporter = true
    return distribution
}()
/// Flink 1.20 installed beside 2.3.
private let older = FlinkDistribution(home: "/flink-1.20", version: "1.20.5", java: "/usr/bin/java",
                                      classpath: ["/flink-1.20/lib/a.jar", "/flink-1.20/lib/flink-dist-1.20.5.jar"], jvmOptions: ["--add-opens=y"])
private let planner = FlinkPlanner()

extension FlinkDistribution {
    func with(home: String) -> FlinkDistribution {
        var copy = self
        copy.home = home
        return copy
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}

private func deployment(_ name: String = "app", mode: DeploymentMode = .application, parallelism: Int = 2, slots: String = "1",
                        replicas: Int? = nil, version: FlinkVersion = .v2_3, configuration: [String: String] = [:]) -> FlinkDeployment {
    FlinkDeployment(metadata: ObjectMeta(name: name), spec: FlinkDeploymentSpec(
        job: mode == .session ? nil : JobSpec(jarURI: "local:///opt/flink/usrlib/job.jar", parallelism: parallelism,
                                              entryClass: "dev.Example", args: ["--rate", "5"]),
        flinkConfiguration: FlinkConfiguration(configuration.merging(["taskmanager.numberOfTaskSlots": slots]) { a, _ in a }),
        flinkVersion: version,
        jobManager: JobManagerSpec(resource: Resource(memory: "768m")),
        taskManager: TaskManagerSpec(resource: Resource(memory: "1024m"), replicas: replicas), mode: mode))
}

private func observation(_ d: FlinkDeployment, jar: Result<String, DeploymentProblem>? = .success("/flink/usrlib/job.jar"),
                         rest: RESTObservation = .notChecked, jobs: [ObservedJob] = [], recorded: JobStatus? = nil,
                         slotFree: Bool = true, sessionJobs: [String] = []) -> FlinkObservation {
    // A recorded job means a recorded deployment of this spec (what the reconciler writes together).
    var observation = FlinkObservation(distribution: distribution, podRoot: "/state/pods/default/\(d.metadata.name)",
                     clusterDirectory: "/state/clusters/default/\(d.metadata.name)",
                     ports: Array(20_000..<(20_000 + FlinkCluster.portCount(d.spec))), jar: jar, rest: rest, jobs: jobs,
                     recordedJob: recorded, sessionJobs: sessionJobs, submissionSlotFree: slotFree, lastKnown: .deployment(d),
                     deployed: recorded == nil ? nil : .deployment(d),
                     reconciliation: recorded == nil ? nil : ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(d)), state: .deployed))
    observation.metricsPorts = Array(21_000..<(21_000 + FlinkCluster.metricsPortCount(d.spec)))
    return observation
}

private func input(_ d: FlinkDeployment, _ observation: FlinkObservation, pods: [ObservedPod] = [], defined: Bool = true,
                   conditions: [Condition] = [], generation: Int64 = 1) -> PlanInput {
    PlanInput(id: d.id, resource: defined ? .deployment(d) : nil, isDefined: defined, generation: generation, pods: pods,
              conditions: conditions, domain: observation, now: Date(timeIntervalSince1970: 1_800_000_000))
}

private func layout(_ d: FlinkDeployment, _ o: FlinkObservation, generation: Int64 = 1) throws -> FlinkCluster.Layout {
    try FlinkCluster.layout(of: d, observation: o, distribution: distribution,
                            jobId: d.spec.effectiveMode == .session ? nil : FlinkCluster.jobId(key: d.id.key, generation: generation),
                            jar: "/flink/usrlib/job.jar").get()
}

private func running(_ plan: PodPlan, ready: Bool = true, phase: ObservedPod.Phase = .running) -> ObservedPod {
    ObservedPod(name: plan.name, phase: phase, ready: ready, planHash: plan.planHash)
}

private func started(_ plan: Plan) -> [PodPlan] {
    plan.steps.compactMap { if case .startPod(let pod) = $0 { pod } else { nil } }
}

private func events(_ plan: Plan) -> [String] {
    plan.steps.compactMap { if case .event(_, let reason, _) = $0 { reason } else { nil } }
}

@Suite struct FlinkClusterTests {
    @Test func taskManagersFollowReplicasOrParallelismOverSlots() {
        #expect(FlinkCluster.taskManagerReplicas(deployment(parallelism: 4, slots: "2").spec) == 2)
        #expect(FlinkCluster.taskManagerReplicas(deployment(parallelism: 5, slots: "2").spec) == 3)
        #expect(FlinkCluster.taskManagerReplicas(deployment(parallelism: 5, replicas: 1).spec) == 1)
        #expect(FlinkCluster.taskManagerReplicas(deployment(mode: .session).spec) == 1)
        #expect(FlinkCluster.portCount(deployment(parallelism: 2).spec) == 12, "REST, blob, and RPC ports for each of two sides")
    }

    @Test func eachProcessGetsItsStartupTuningThenTheManifestsJavaOptionsAfterItsMemoryFlags() throws {
        let d = deployment(mode: .perJob, configuration: [
            "env.java.opts.all": "\"-Dall=1  -XX:+UseSerialGC\"", "env.java.opts.jobmanager": "-Djm=1",
            "env.java.opts.taskmanager": "-Dtm=1 -XX:Tier4InvocationThreshold=5000", "env.java.opts.client": "-Dclient=1",
            "rest.retry.delay": "1s",
        ])
        let l = try layout(d, observation(d))
        let jm = l.jobManager.argv, tm = try #require(l.taskManagers.first).argv, client = try #require(l.submitter).argv
        func index(_ argv: [String], _ prefix: String) -> Int { argv.firstIndex { $0.hasPrefix(prefix) } ?? -1 }
        // Flinklet's tuning, then memory, then the manifest's (last, so HotSpot takes them).
        #expect(jm.contains("-XX:Tier4InvocationThreshold=500000") && tm.contains("-XX:Tier4InvocationThreshold=50000"))
        #expect(client.contains("-XX:TieredStopAtLevel=1") && !jm.contains("-XX:TieredStopAtLevel=1") && !tm.contains("-XX:TieredStopAtLevel=1"))
        #expect(index(jm, "-XX:Tier4") < index(jm, "-Xmx") && index(jm, "-Xmx") < index(jm, "-Dall=1"))
        #expect(Array(jm[index(jm, "-Dall=1")...].prefix(3)) == ["-Dall=1", "-XX:+UseSerialGC", "-Djm=1"])
        #expect(Array(tm[index(tm, "-Dall=1")...].prefix(4)) == ["-Dall=1", "-XX:+UseSerialGC", "-Dtm=1", "-XX:Tier4InvocationThreshold=5000"])
        #expect(Array(client[index(client, "-Dall=1")...].prefix(3)) == ["-Dall=1", "-XX:+UseSerialGC", "-Dclient=1"])
        #expect(index(tm, "-Dall=1") < index(tm, "-classpath") && !jm.contains("-Dtm=1") && !tm.contains("-Djm=1"))
        // The manifest's retry delay is kept; the attempts are Flinklet's.
        let config = try #require(l.submitter?.files["conf/config.yaml"])
        #expect(config.contains("\"rest.retry.delay\": \"1s\"") && config.contains("\"rest.retry.max-attempts\": \"3000\""))
    }

    @Test func theOlderJavaOptionsKeyAndTheDefaultOptionsAreReadAsFlinksScriptsReadThem() {
        #expect(FlinkJVMOptions.user(["env.java.opts": "-Da=1"], role: .jobManager) == ["-Da=1"])
        #expect(FlinkJVMOptions.user(["env.java.opts": "-Da=1", "env.java.opts.all": "-Db=1"], role: .jobManager) == ["-Db=1"])
        #expect(FlinkJVMOptions.user(["env.java.default-opts.all": "-Dd=1", "env.java.opts.all": "-Db=1",
                                      "env.java.default-opts.taskmanager": "-Dt=1"], role: .taskManager) == ["-Dd=1", "-Db=1", "-Dt=1"])
        #expect(FlinkJVMOptions.user(["env.java.opts.taskmanager": "-Dt=1"], role: .jobManager).isEmpty)
        #expect(FlinkJVMOptions.user([:], role: .submitter).isEmpty)
        #expect(FlinkJVMOptions.startup(for: .main).isEmpty)
    }

    @Test func jobIdsAre32HexDigitsStablePerGenerationAndNewPerGeneration() {
        let a = FlinkCluster.jobId(key: "FlinkDeployment/default/app", generation: 1)
        #expect(a.count == 32 && a.allSatisfy(\.isHexDigit))
        #expect(a == FlinkCluster.jobId(key: "FlinkDeployment/default/app", generation: 1))
        #expect(a != FlinkCluster.jobId(key: "FlinkDeployment/default/app", generation: 2))
        #expect(a != FlinkCluster.jobId(key: "FlinkDeployment/default/other", generation: 1))
    }

    @Test func anApplicationJobManagerRunsTheJobWithItsIdJarAndArgumentsBoundToLoopback() throws {
        let d = deployment()
        let l = try layout(d, observation(d))
        let argv = l.jobManager.argv
        #expect(argv.first == "/usr/bin/java")
        #expect(argv.contains("--add-opens=x"))
        #expect(argv.contains("org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint"))
        #expect(argv.suffix(9) == ["--job-id", FlinkCluster.jobId(key: d.id.key, generation: 1), "--job-classname", "dev.Example",
                                   "--jars", "local:///flink/usrlib/job.jar", "--", "--rate", "5"])
        #expect(argv.contains("-Xmx201326592"), "192m of heap for a 768m JobManager, as Flink computes it")
        #expect(argv.contains("-classpath") && argv.contains("/flink/lib/a.jar:/flink/lib/flink-dist-2.3.0.jar"))
        let config = try #require(l.jobManager.files["conf/config.yaml"])
        let rpcPort = 20_002 + FlinkCluster.side(ofJob: FlinkCluster.jobId(key: d.id.key, generation: 1))
        for line in ["\"rest.port\": \"20000\"", "\"jobmanager.rpc.port\": \"\(rpcPort)\"", "\"blob.server.port\": \"20001\"",
                     "\"rest.bind-address\": \"127.0.0.1\"", "\"jobmanager.bind-host\": \"127.0.0.1\"",
                     "\"io.tmp.dirs\": \"/state/pods/default/app/app-jobmanager-0/tmp\"",
                     "\"user.artifacts.base-dir\": \"/state/pods/default/app/app-jobmanager-0/artifacts\"",
                     "\"execution.checkpointing.dir\": \"file:///state/clusters/default/app/checkpoints\"",
                     "\"execution.shutdown-on-application-finish\": \"false\"", "\"high-availability.type\": \"none\"",
                     "\"cluster.registration.error-delay\": \"200ms\""] {
            #expect(config.contains(line + "\n"), "\(line)")
        }
        #expect(!config.contains("/opt/flink"))
        #expect(l.jobManager.readiness == .httpGet(port: 20000, path: "/overview"))
        #expect(l.jobManager.restartPolicy == .never, "a restarted application JobManager would rerun its job without state")
    }

    @Test func taskManagersGetTheirOwnPortsDirectoriesAndTheMemoryFlinkRequires() throws {
        let d = deployment(parallelism: 2)
        let l = try layout(d, observation(d))
        let side = FlinkCluster.side(ofJob: FlinkCluster.jobId(key: d.id.key, generation: 1))
        #expect(l.taskManagers.map(\.name) == ["app-taskmanager-\(side + 1)-0", "app-taskmanager-\(side + 1)-1"])
        let second = try #require(l.taskManagers.last)
        let config = try #require(second.files["conf/config.yaml"])
        let data = 20_009 + 2 * side
        #expect(config.contains("\"taskmanager.data.port\": \"\(data)\"\n"))
        #expect(config.contains("\"taskmanager.rpc.port\": \"0\"\n"), "a fresh RPC address for every TaskManager process")
        #expect(config.contains("\"taskmanager.resource-id\": \"app-taskmanager-\(side + 1)-1\"\n"))
        #expect(second.readiness == .logLine(FlinkCluster.taskManagerStartedLine))
        #expect(config.contains("\"taskmanager.host\": \"127.0.0.1\"\n"))
        // Flink's TaskManagerRunner refuses to start without these (measured: "taskmanager.cpu.cores is not set").
        #expect(second.argv.contains("taskmanager.cpu.cores=1.0"))
        #expect(second.argv.contains("taskmanager.memory.network.min=67108864b"))
        #expect(second.argv.contains("-XX:MaxDirectMemorySize=201326592"))
        #expect(second.memoryLimitBytes ?? 0 > 1024 << 20)
    }

    @Test func userConfigurationIsKeptButNeverOverridesFlinkletsKeys() throws {
        let d = deployment(configuration: ["state.backend.type": "rocksdb", "heartbeat.timeout": "30s"])
        let config = try #require(try layout(d, observation(d)).jobManager.files["conf/config.yaml"])
        #expect(config.contains("\"state.backend.type\": \"rocksdb\"\n"))
        #expect(config.contains("\"heartbeat.timeout\": \"30s\"\n"), "a default of Flinklet's yields to the manifest")
    }

    @Test func configurationValuesAreQuotedSoYAMLReadsThemAsWritten() {
        #expect(FlinkCluster.renderConfiguration(["a": "x: \"y\"\n", "b": "yes"]) ==
                "# Written by Flinklet for this process; edits are overwritten.\n\"a\": \"x: \\\"y\\\"\\n\"\n\"b\": \"yes\"\n")
    }
}

@Suite struct FlinkDeploymentPlannerTests {
    @Test func everyJVMExportsPrometheusMetricsOnALeasedPortUnlessTheManifestConfiguresReporters() throws {
        let d = deployment(replicas: 2)
        let o = observation(d)
        #expect(FlinkCluster.metricsPortCount(d.spec) == 5)
        let l = try layout(d, o)
        // The JobManager's port, then one per TaskManager and side (this job's side: 1).
        #expect(l.jobManager.metricsPort == 21_000)
        #expect(l.taskManagers.map(\.metricsPort) == [21_002, 21_004])
        #expect(l.jobManager.files["conf/config.yaml"]?.contains("\"metrics.reporter.prom.port\": \"21000\"") == true)
        #expect(l.jobManager.files["conf/config.yaml"]?.contains(FlinkCluster.prometheusReporterFactory) == true)
        #expect(l.taskManagers[1].files["conf/config.yaml"]?.contains("\"metrics.reporter.prom.port\": \"21004\"") == true)
        let plan = planner.plan(input(d, o))
        #expect(plan.flinkStatus?.clusterInfo?["jobmanager-metrics-port"] == "21000")
        #expect(plan.flinkStatus?.clusterInfo?["taskmanager-metrics-ports"] == "21002,21004")

        let own = deployment(replicas: 2, configuration: ["metrics.reporter.jmx.factory.class": "org.apache.flink.metrics.jmx.JMXReporterFactory"])
        let ownLayout = try layout(own, observation(own))
        #expect(ownLayout.jobManager.metricsPort == nil)
        #expect(ownLayout.jobManager.files["conf/config.yaml"]?.contains("metrics.reporter.prom") == false)

        var withoutPlugin = distribution
        withoutPlugin.loopbackPrometheusReporter = false
        let bare = try FlinkCluster.layout(of: d, observation: o, distribution: withoutPlugin, jobId: nil, jar: "/flink/usrlib/job.jar").get()
        #expect(bare.jobManager.metricsPort == nil, "never Flink's own reporter, which binds every interface")
        #expect(l.jobManager.files["conf/config.yaml"]?.contains("\"metrics.reporter.prom.host\": \"127.0.0.1\"") == true)

        var unleased = o
        unleased.metricsPorts = []
        #expect(planner.plan(input(d, unleased)).steps == [.leasePorts(count: FlinkCluster.portCount(d.spec))])
    }

    @Test func aSessionClusterRecordsItsReconciliationAsUpstreamDoes() throws {
        // Argo CD's built-in FlinkDeployment health check reads reconciliationStatus.state.
        let d = deployment("session", mode: .session)
        let o = observation(d)
        let plan = planner.plan(input(d, o))
        #expect(plan.flinkStatus?.reconciliation?.state == .deployed)
        #expect(plan.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(d)))
        #expect(plan.flinkStatus?.reconciliation?.lastStableSpec == nil, "not ready yet")
    }

    @Test func anInvalidNewerManifestStallsWhileTheLastValidSpecKeepsRunning() throws {
        let d = deployment()
        let o = observation(d)
        var invalid = input(d, o)
        invalid.validationErrors = ["app.yaml:12:36: spec.taskManager.resource.memory: Invalid value: \"100m\""]
        let plan = planner.plan(invalid)
        let stalled = try #require(plan.conditions.first { $0.type == Conditions.stalled })
        #expect(stalled.reason == "ValidationError" && stalled.status == .true)
        #expect(plan.error == invalid.validationErrors.first)
        #expect(!planner.plan(input(d, o)).conditions.contains { $0.type == Conditions.stalled })
    }

    @Test func aNewApplicationStartsJobManagerAndTaskManagersTogether() throws {
        let d = deployment()
        let o = observation(d)
        let plan = planner.plan(input(d, o))
        let l = try layout(d, o)
        #expect(started(plan) == [l.jobManager] + l.taskManagers)
        #expect(events(plan) == ["Submit"])
        #expect(plan.flinkStatus?.jobStatus?.state == "RECONCILING")
        #expect(plan.flinkStatus?.jobStatus?.jobId == FlinkCluster.jobId(key: d.id.key, generation: 1))
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .deploying)
        #expect(plan.flinkStatus?.clusterInfo?["rest-url"] == "http://127.0.0.1:20000")
        #expect(plan.next == .requeue(after: .seconds(1)))
        #expect(plan == planner.plan(input(d, o)), "pure: the same input gives the same plan")
    }

    @Test func aNewJobManagerNeverMeetsTaskManagersThatRegisteredWithAnEarlierOne() throws {
        let d = deployment()
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        var o = observation(d, recorded: JobStatus(jobId: jobId, state: "RECONCILING"))
        let l = try layout(d, o)
        let taskManagers = l.taskManagers.map { running($0) }
        // Warm TaskManagers that never registered (started ahead of their JobManager) are kept.
        let warm = planner.plan(input(d, o, pods: taskManagers))
        #expect(started(warm) == [l.jobManager])
        // Ones that registered with a JobManager that is gone are restarted with the new one.
        o.registeredTaskManagers = Set(l.taskManagers.map(\.name))
        let plan = planner.plan(input(d, o, pods: taskManagers))
        #expect(started(plan) == [l.jobManager], "the TaskManagers start again once their old processes are gone")
        #expect(plan.steps.filter { if case .stopPod(_, "registered with an earlier JobManager") = $0 { true } else { false } }.count
                == l.taskManagers.count)
        let admit = plan.steps.firstIndex(of: .admit(.clusterStart, holder: d.id.key, force: false))
        let jobManagerStart = plan.steps.firstIndex(of: .startPod(l.jobManager))
        #expect(admit != nil && jobManagerStart != nil && admit! < jobManagerStart!, "a start slot is taken right before the JobManager starts")
        // They are gone: they start, and register with the new JobManager only.
        o.registeredTaskManagers = []
        let after = planner.plan(input(d, o, pods: [running(l.jobManager, ready: false)]))
        #expect(started(after) == l.taskManagers)
        #expect(!after.steps.contains { if case .stopPod = $0 { true } else { false } })
    }

    @Test func aMissingJarStartsNothingAndSaysSoOnce() {
        let d = deployment()
        let o = observation(d, jar: .failure(DeploymentProblem("jar \"local:///opt/flink/usrlib/job.jar\" not found: /flink/usrlib/job.jar does not exist")))
        let plan = planner.plan(input(d, o))
        #expect(started(plan).isEmpty)
        #expect(events(plan) == ["JarNotFound"])
        #expect(plan.error?.contains("/flink/usrlib/job.jar does not exist") == true)
        #expect(plan.lifecycleState == .failed)
        let again = planner.plan(input(d, o, conditions: plan.conditions))
        #expect(again.steps.isEmpty, "the same problem is not reported on every reconcile")
    }

    @Test func aVersionThatIsNotInstalledStartsNothingAndSaysHowToInstallIt() {
        let d = deployment(version: .v1_20)
        let plan = planner.plan(input(d, observation(d)))
        #expect(started(plan).isEmpty)
        #expect(events(plan) == ["FlinkNotInstalled"])
        #expect(plan.error == "Flink 1.20 is not installed: run hack/install-flink.sh 1.20")
        #expect(plan.conditions.contains { $0.type == "Stalled" && $0.status == .true && $0.reason == "FlinkNotInstalled" })
        #expect(plan.next == .requeue(after: .seconds(10)), "looked at again: an installation is picked up without a restart")
        let again = planner.plan(input(d, observation(d), conditions: plan.conditions))
        #expect(again.steps.isEmpty, "the same problem is not reported on every reconcile")

        // Installed meanwhile: the next reconcile starts the cluster from that distribution.
        var installed = observation(d)
        installed.distributions = FlinkDistributions([distribution, older])
        let deployed = planner.plan(input(d, installed, conditions: plan.conditions))
        let pods = started(deployed)
        #expect(pods.count == 3, "JobManager and two TaskManagers")
        #expect(pods.allSatisfy { $0.argv[0] == older.java && $0.environment["FLINK_HOME"] == "/flink-1.20" && $0.argv.contains(older.classpath.joined(separator: ":")) },
                "\(pods.map(\.argv))")
        #expect(deployed.flinkStatus?.clusterInfo?["flink-version"] == "1.20.5")
    }

    @Test func eachVersionRunsFromItsOwnDistribution() throws {
        var o = observation(deployment())
        o.distributions = FlinkDistributions([distribution, older])
        for (version, home) in [(FlinkVersion.v2_3, "/flink"), (.v1_20, "/flink-1.20")] {
            let d = deployment(version: version)
            let pods = started(planner.plan(input(d, o)))
            #expect(!pods.isEmpty && pods.allSatisfy { $0.environment["FLINK_HOME"] == home }, "\(version)")
        }
    }

    /// An application moved back from 2.3 to 1.20 keeps running on 2.3, untouched (its pods, on
    /// the jar they run, not the manifest's 1.20 one), and says why in Ready and Stalled (not
    /// "JobManager not ready").
    @Test func aDowngradeLeavesTheRunningClusterAloneAndSaysWhy() throws {
        var current = deployment(version: .v2_3)
        current.spec.job?.upgradeMode = .savepoint
        var older1_20 = deployment(version: .v1_20)
        older1_20.spec.job?.upgradeMode = .savepoint
        var o = observation(older1_20, jar: .success("/flink-1.20/usrlib/job.jar"), rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: "0123", name: "app", state: .running, allTasksRunning: true)],
                            recorded: JobStatus(jobId: "0123", state: "RUNNING"))
        o.distributions = FlinkDistributions([distribution, older])
        o.deployed = .deployment(current)
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(current)), state: .deployed)
        o.recordedClusterInfo = ["flink-version": "2.3.0", "jar": "/flink/usrlib/job.jar"]
        let layout = try FlinkCluster.layout(of: current, observation: o, distribution: distribution, jobId: "0123", jar: "/flink/usrlib/job.jar").get()
        let pods = ([layout.jobManager] + layout.taskManagers).map { running($0) }
        let plan = planner.plan(input(older1_20, o, pods: pods, generation: 2))
        #expect(plan.steps.allSatisfy { if case .event = $0 { true } else { false } }, "nothing but the event: \(plan.steps)")
        #expect(events(plan) == ["FlinkVersionDowngrade"])
        let ready = plan.conditions.first { $0.type == "Ready" }
        #expect(ready?.status == .false && ready?.reason == "FlinkVersionDowngrade", "\(String(describing: ready))")
        #expect(plan.conditions.contains { $0.type == "Stalled" && $0.reason == "FlinkVersionDowngrade" })
        #expect(plan.flinkStatus?.clusterInfo?["flink-version"] == "2.3.0")
        #expect(plan.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(current)))
    }

    /// The JobManager of a refused downgrade dies (a power loss): the job is recovered on the
    /// version it ran, 2.3, from its newest checkpoint and with the jar its cluster ran, still
    /// Stalled for the downgrade; never started on 1.20, never left dead.
    @Test func aRefusedDowngradeRecoversALostJobManagerOnTheVersionItRan() throws {
        var current = deployment(version: .v2_3)
        current.spec.job?.upgradeMode = .savepoint
        var older1_20 = deployment(version: .v1_20)
        older1_20.spec.job?.upgradeMode = .savepoint
        var o = observation(older1_20, jar: .success("/flink-1.20/usrlib/job.jar"), rest: .unreachable("connection refused"),
                            recorded: JobStatus(jobId: "0123", state: "RUNNING", updateTime: "1799999000000"))
        o.distributions = FlinkDistributions([distribution, older])
        o.deployed = .deployment(current)
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(current)), state: .deployed)
        o.recordedClusterInfo = ["flink-version": "2.3.0", "jar": "/flink/usrlib/job.jar"]
        o.latestCheckpoint = ObservedCheckpoint(path: "/state/clusters/default/app/checkpoints/0123/chk-7", timestamp: 1_799_999_990_000)
        let layout = try FlinkCluster.layout(of: current, observation: o, distribution: distribution, jobId: "0123", jar: "/flink/usrlib/job.jar").get()
        let lost = ([layout.jobManager] + layout.taskManagers).map { plan in
            ObservedPod(name: plan.name, phase: .failed, ready: false, planHash: plan.planHash, reason: "Lost")
        }
        let plan = planner.plan(input(older1_20, o, pods: lost, generation: 2))
        #expect(events(plan).contains("RecoverDeployment") && events(plan).contains("FlinkVersionDowngrade"), "\(events(plan))")
        let next = JobLifecycle.nextJobId(key: older1_20.id.key, previous: "0123")
        #expect(plan.flinkStatus?.jobStatus?.jobId == next)
        #expect(plan.flinkStatus?.jobStatus?.upgradeSavepointPath == "/state/clusters/default/app/checkpoints/0123/chk-7")
        #expect(plan.flinkStatus?.clusterInfo?["flink-version"] == "2.3.0")
        #expect(plan.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(current)))
        #expect(plan.conditions.contains { $0.type == "Stalled" && $0.reason == "FlinkVersionDowngrade" })
        #expect(plan.conditions.first { $0.type == "Ready" }?.reason == "FlinkVersionDowngrade")
        // Once the lost pods are gone, the recovered cluster starts: 2.3's classpath, the 2.3 jar, the new job id.
        let recovered = planner.plan(input(older1_20, { var r = o
            r.recordedJob = plan.flinkStatus?.jobStatus
            return r }(), pods: [], generation: 2))
        let jm = try #require(started(recovered).first { $0.role == .jobManager }, "\(recovered.steps)")
        #expect(jm.argv.contains("/flink/lib/a.jar:/flink/lib/flink-dist-2.3.0.jar"), "\(jm.argv)")
        #expect(jm.argv.contains(next) && jm.argv.contains("local:///flink/usrlib/job.jar"), "\(jm.argv)")
        #expect(jm.argv.contains("--fromSavepoint") && jm.argv.contains("/state/clusters/default/app/checkpoints/0123/chk-7"), "\(jm.argv)")
        #expect(!jm.argv.joined(separator: " ").contains("1.20"), "nothing of 1.20: \(jm.argv)")
    }

    /// A rollback runs the last stable spec with its own jar: after a 1.20 -> 2.3 upgrade that
    /// failed, the 1.20 job runs on 1.20's distribution from 1.20's `/opt/flink` jar, not the
    /// manifest's (2.3's); a stable jar that is gone stalls the rollback instead of running
    /// another jar.
    @Test func aRollbackAcrossVersionsRunsTheStableSpecsJarOnItsDistribution() throws {
        let rollback = ["kubernetes.operator.deployment.rollback.enabled": "true"]
        let stable = deployment(version: .v1_20, configuration: rollback)
        let manifest = deployment(version: .v2_3, configuration: rollback)
        var o = observation(manifest, recorded: JobStatus(jobId: "0123", state: "RUNNING", upgradeSavepointPath: "/sp/savepoint-1"))
        o.distributions = FlinkDistributions([distribution, older])
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(manifest)),
                                                lastStableSpec: JobLifecycle.specJSONOf(.deployment(stable)), state: .rolledBack)
        o.stableJar = .success("/flink-1.20/usrlib/job.jar")
        let pods = started(planner.plan(input(manifest, o, generation: 2)))
        #expect(!pods.isEmpty && pods.allSatisfy { $0.environment["FLINK_HOME"] == "/flink-1.20" }, "\(pods.map(\.environment))")
        let text = pods.map { ($0.argv + $0.environment.values).joined(separator: " ") + $0.files.values.joined() }.joined(separator: " ")
        #expect(text.contains("/flink-1.20/usrlib/job.jar") && !text.contains("/flink/usrlib/job.jar"), "\(pods.map(\.argv))")

        o.stableJar = .failure(DeploymentProblem("jar \"local:///opt/flink/usrlib/job.jar\" not found at /flink-1.20/usrlib/job.jar", reason: "JarNotFound"))
        let gone = planner.plan(input(manifest, o, generation: 2))
        #expect(started(gone).isEmpty)
        #expect(gone.conditions.contains { $0.type == "Stalled" && $0.reason == "JarNotFound" && ($0.message ?? "").hasPrefix("rollback: ") })
    }

    /// A session cluster's version change waits while jobs run in it (they would come back from
    /// checkpoints across versions), and happens once none does (they make way by themselves:
    /// `SessionPlannerTests.aSessionJobMovesWithItsClusterToAnotherFlinkVersionThroughASavepoint`).
    @Test func aSessionClusterKeepsItsVersionWhileJobsRunInIt() throws {
        let v22 = FlinkDistribution(home: "/flink-2.2", version: "2.2.1", java: "/usr/bin/java",
                                    classpath: ["/flink-2.2/lib/flink-dist-2.2.1.jar"], jvmOptions: [])
        let old = deployment("session", mode: .session, version: .v2_2)
        let new = deployment("session", mode: .session, version: .v2_3)
        var o = observation(new, rest: .answering(taskManagers: 1, slots: 1),
                            jobs: [ObservedJob(id: "0123", name: "counter", state: .running, allTasksRunning: true)])
        o.distributions = FlinkDistributions([distribution, v22])
        o.deployed = .deployment(old)
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(old)), state: .deployed)
        let oldLayout = try FlinkCluster.layout(of: old, observation: o, distribution: v22, jobId: nil, jar: nil).get()
        let pods = ([oldLayout.jobManager] + oldLayout.taskManagers).map { running($0) }
        let held = planner.plan(input(new, o, pods: pods, generation: 2))
        let podSteps = held.steps.filter { step in
            switch step { case .stopPod, .startPod: true; default: false }
        }
        #expect(podSteps.isEmpty, "the 2.2 cluster keeps running: \(podSteps)")
        #expect(events(held) == ["SessionJobsRunning"])
        #expect(held.conditions.contains { $0.type == "Reconciling" && $0.reason == "SessionJobsRunning" && ($0.message ?? "").contains("from v2_2 to v2_3 while 1 job(s) run") })
        let ready = held.conditions.first { $0.type == "Ready" }
        #expect(ready?.status == .true, "Ready: its REST API takes its session jobs' savepoints")
        #expect(held.flinkStatus?.clusterInfo?["flink-version"] == "2.2.1")
        #expect(held.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(old)))

        // Back to 2.2 from 2.3 while a job runs: refused (Stalled), its job not asked to make way.
        var back = o
        back.deployed = .deployment(new)
        back.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(new)), state: .deployed)
        let newLayout = try FlinkCluster.layout(of: new, observation: back, distribution: distribution, jobId: nil, jar: nil).get()
        let newPods = ([newLayout.jobManager] + newLayout.taskManagers).map { running($0) }
        let refused = planner.plan(input(old, back, pods: newPods, generation: 3))
        #expect(!refused.steps.contains { step in
            switch step { case .stopPod, .startPod: true; default: false }
        }, "\(refused.steps)")
        #expect(events(refused) == ["FlinkVersionDowngrade"])
        #expect(refused.conditions.contains { $0.type == "Stalled" && $0.reason == "FlinkVersionDowngrade" && ($0.message ?? "").contains("v2_2 is older than v2_3") })
        #expect(!refused.conditions.contains { $0.reason == "SessionJobsRunning" }, "its jobs are not asked to make way")

        // No job listed (the session job between its savepoint and its resubmission, or lost with a
        // JobManager that died and was restarted): still refused while a session job names the
        // cluster, and its pods (lost ones included) restart on 2.3, not 2.2.
        var unlisted = back
        unlisted.jobs = []
        unlisted.sessionJobs = ["sjob"]
        unlisted.rest = .unreachable("connection refused")
        let lostPods = ([newLayout.jobManager] + newLayout.taskManagers).map { plan in
            ObservedPod(name: plan.name, phase: .failed, ready: false, planHash: plan.planHash, reason: "Lost")
        }
        let stillRefused = planner.plan(input(old, unlisted, pods: lostPods, generation: 3))
        #expect(stillRefused.conditions.contains { $0.type == "Stalled" && $0.reason == "FlinkVersionDowngrade" && ($0.message ?? "").contains("sjob") },
                "\(stillRefused.conditions)")
        #expect(!stillRefused.steps.contains { step in
            if case .startPod(let pod) = step { pod.planHash != newLayout.jobManager.planHash && pod.role == .jobManager } else { false }
        }, "no JobManager of another spec: \(stillRefused.steps)")
        #expect(stillRefused.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(new)))
        // The lost pods stopped, none left: they start again on 2.3, not on the manifest's 2.2
        // (chaos seed 372 round 6: after a power loss the cluster came back on the older version
        // and its session job FAILED there, "Unrecognized checkpoint version number: 6").
        let restarted = planner.plan(input(old, unlisted, pods: [], generation: 3))
        #expect(restarted.conditions.contains { $0.type == "Stalled" && $0.reason == "FlinkVersionDowngrade" }, "\(restarted.conditions)")
        #expect(!started(restarted).isEmpty && started(restarted).allSatisfy { pod in
            pod.argv.contains { $0.contains("flink-dist-2.3.0") } && !pod.argv.contains { $0.contains("2.2.1") }
        }, "\(restarted.steps)")
        #expect(restarted.flinkStatus?.reconciliation?.lastReconciledSpec == JobLifecycle.specJSONOf(.deployment(new)))
        // Once no session job names it, the downgrade goes ahead (a new cluster, nothing to restore).
        unlisted.sessionJobs = []
        let moves = planner.plan(input(old, unlisted, pods: newPods, generation: 3))
        #expect(!moves.conditions.contains { $0.reason == "FlinkVersionDowngrade" }, "\(moves.conditions)")
        #expect(moves.steps.contains { step in if case .stopPod = step { true } else { false } }, "\(moves.steps)")

        // Its jobs made way (stopped with savepoints): the cluster restarts on 2.3.
        o.jobs = [ObservedJob(id: "0123", name: "counter", state: .finished)]
        let moved = planner.plan(input(new, o, pods: pods, generation: 2))
        #expect(moved.steps.contains { step in
            if case .stopPod = step { true } else { false }
        })
        #expect(!events(moved).contains("SessionJobsRunning"))
    }

    @Test func distributionsResolveVersionsOrSayWhyNot() throws {
        let both = FlinkDistributions([older, distribution])
        #expect(try both.resolve(.v1_20).get() == older)
        #expect(try both.resolve(.v2_3).get() == distribution)
        #expect(try both.resolve(nil).get() == distribution, "no version: the newest installed")
        #expect(both.resolve(.v2_1).failure == DeploymentProblem("Flink 2.1 is not installed: run hack/install-flink.sh 2.1", reason: "FlinkNotInstalled"))
        #expect(both.resolve(.v1_19).failure?.reason == "UnsupportedFlinkVersion")
        let explicit = FlinkDistributions([distribution], explicitHome: "/flink")
        #expect(explicit.resolve(.v1_20).failure?.message
                == "Flink 1.20 is not installed: run hack/install-flink.sh 1.20 (this operator runs only --flink-home /flink, Flink 2.3.0: restart it without --flink-home to use every installed version)")
        #expect(FlinkDistributions(problem: "nothing in .flink").resolve(nil).failure == DeploymentProblem("nothing in .flink", reason: "FlinkNotFound"))
        #expect(FlinkDistributions([distribution, older.with(home: "/elsewhere")]).installed.count == 2, "one per version")
        #expect(FlinkDistributions([older, older.with(home: "/elsewhere")]).installed[.v1_20]?.home == "/flink-1.20", "the first of a version wins")
    }

    @Test func withoutADistributionNothingStarts() {
        let d = deployment()
        var o = observation(d)
        o.distribution = nil
        o.distributionProblem = "no Flink distribution found (tried .flink/); run hack/install-flink.sh or pass --flink-home"
        let plan = planner.plan(input(d, o))
        #expect(started(plan).isEmpty && events(plan) == ["FlinkNotInstalled"])
        #expect(plan.error == "Flink 2.3 is not installed: run hack/install-flink.sh 2.3 (no Flink distribution found (tried .flink/); run hack/install-flink.sh or pass --flink-home)")
    }

    @Test func aRunningJobWithRegisteredTaskManagersIsStableAndItsStatusFollowsFlink() throws {
        let d = deployment()
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let o = observation(d, rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: jobId, name: "counter", state: .running, startTime: 1_799_999_990_000, allTasksRunning: true)],
                            recorded: JobStatus(jobName: "app", jobId: jobId, state: "RECONCILING"))
        let l = try layout(d, o)
        let plan = planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(started(plan).isEmpty)
        #expect(events(plan) == ["JobStatusChanged"])
        #expect(plan.steps.contains(.event(type: .normal, reason: "JobStatusChanged", message: "Job status changed from RECONCILING to RUNNING")))
        #expect(plan.lifecycleState == .stable)
        #expect(plan.conditions.first { $0.type == "Ready" }?.status == .true)
        #expect(plan.conditions.first { $0.type == "Running" }?.status == .true)
        #expect(plan.flinkStatus?.jobStatus?.startTime == "1799999990000")
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .ready)
        #expect(plan.observedGeneration == 1)
    }

    @Test func podsAnEarlierFlinkletRenderedDifferentlyKeepRunningTheJobUntilItsNextUpgrade() throws {
        // Replacing a live JobManager because this Flinklet renders its plan differently (a new
        // reporter, a new configuration key) would start the job again from empty state.
        var d = deployment()
        d.spec.job?.upgradeMode = .savepoint
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let o = observation(d, rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: jobId, name: "counter", state: .running, allTasksRunning: true)],
                            recorded: JobStatus(jobName: "app", jobId: jobId, state: "RUNNING"))
        let l = try layout(d, o)
        let earlier = ([l.jobManager] + l.taskManagers).map { ObservedPod(name: $0.name, phase: .running, ready: true, planHash: "an-earlier-rendering") }
        let plan = planner.plan(input(d, o, pods: earlier))
        let touched = plan.steps.filter { switch $0 { case .stopPod, .startPod: true; default: false } }
        #expect(touched.isEmpty)
        #expect(plan.lifecycleState == .stable)
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .ready)

        // The next spec change upgrades through a savepoint: the JobManager stays until it is taken.
        var v2 = d
        v2.spec.job?.args = ["--rate", "6"]
        let upgrade = planner.plan(input(v2, o, pods: earlier, generation: 2))
        let stopped = upgrade.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(!stopped.contains(l.jobManager.name))
        #expect(upgrade.lifecycleState == .upgrading)

        // A JobManager of an earlier rendering that failed is not kept: the lifecycle recovers the job.
        var failed = earlier
        failed[0] = ObservedPod(name: l.jobManager.name, phase: .failed, ready: false, planHash: "an-earlier-rendering")
        let recovery = planner.plan(input(d, o, pods: failed))
        #expect(recovery.lifecycleState != .stable)
    }

    /// The operator died between the savepoint and the successor's cluster: the record names the
    /// successor job, but the JobManager that still runs (another plan) answers with the previous
    /// job only. It is not the successor's: it is replaced, and the successor starts.
    @Test func aJobManagerThatAnswersWithoutTheRecordedJobIsNotKeptAsAnEarlierRendering() throws {
        var d = deployment()
        d.spec.job?.upgradeMode = .savepoint
        let successor = FlinkCluster.jobId(key: d.id.key, generation: 2)
        let previous = FlinkCluster.jobId(key: d.id.key, generation: 1)
        var o = observation(d, rest: .answering(taskManagers: 1, slots: 1),
                            jobs: [ObservedJob(id: previous, name: "counter", state: .finished)],
                            recorded: JobStatus(jobName: "app", jobId: successor, state: "RECONCILING", upgradeSavepointPath: "/sp/1"))
        o.deployed = .deployment(d)
        o.reconciliation = ReconciliationStatus(reconciliationTimestamp: 1_800_000_000_000, lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(d)),
                                                state: .deployed)
        let l = try layout(d, o)
        let old = ObservedPod(name: l.jobManager.name, phase: .running, ready: true, planHash: "the-previous-jobs-plan")
        let plan = planner.plan(input(d, o, pods: [old]))
        let stopped = plan.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(stopped.contains(l.jobManager.name), "\(plan.steps)")

        o.rest = .unreachable("connection refused")
        o.jobs = []
        let unknown = planner.plan(input(d, o, pods: [old]))
        #expect(!unknown.steps.contains { if case .stopPod(l.jobManager.name, _) = $0 { true } else { false } },
                "a JobManager that does not answer is not replaced on that")
    }

    @Test func runningButTasksStillDeployingIsNotReady() throws {
        let d = deployment()
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let o = observation(d, rest: .answering(taskManagers: 2, slots: 2), jobs: [ObservedJob(id: jobId, name: "c", state: .running, allTasksRunning: false)])
        let l = try layout(d, o)
        let plan = planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(plan.conditions.first { $0.type == "Running" }?.status == .false)
        #expect(plan.lifecycleState == .deployed)
    }

    @Test func aFailedApplicationJobManagerIsReportedWithFlinksMessageAndNotRestartedBlindly() throws {
        let d = deployment()
        var o = observation(d)
        let l = try layout(d, o)
        o.podFailures = [l.jobManager.name: "java.lang.ClassNotFoundException: dev.Example"]
        var jm = running(l.jobManager, ready: false, phase: .failed)
        jm.exitCode = 1
        let plan = planner.plan(input(d, o, pods: [jm] + l.taskManagers.map { running($0) }))
        #expect(started(plan).isEmpty)
        #expect(events(plan) == ["JobManagerFailed"])
        #expect(plan.error == "JobManager app-jobmanager-0 exited with code 1: java.lang.ClassNotFoundException: dev.Example")
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .error)
    }

    @Test func aSpecChangeReplacesThePodsWithANewJobId() throws {
        let d = deployment()
        let o = observation(d)
        let old = try layout(d, o, generation: 1)
        let plan = planner.plan(input(d, o, pods: ([old.jobManager] + old.taskManagers).map { running($0) }, generation: 2))
        let new = try layout(d, o, generation: 2)
        let stopped = plan.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(Set(stopped) == Set(([old.jobManager] + old.taskManagers).map(\.name)))
        // Pods under new names start now; the JobManager keeps its name and starts once the old one is gone.
        let renamed = new.taskManagers.filter { plan in !([old.jobManager] + old.taskManagers).contains { $0.name == plan.name } }
        #expect(started(plan).map(\.name) == renamed.map(\.name))
        #expect(plan.flinkStatus?.jobStatus?.jobId == FlinkCluster.jobId(key: d.id.key, generation: 2))
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .deploying)
        let after = planner.plan(input(d, o, pods: renamed.map { running($0) }, generation: 2))
        #expect(started(after).map(\.name) == [new.jobManager.name] + new.taskManagers.filter { !renamed.contains($0) }.map(\.name))
        #expect(started(after).first?.planHash != old.jobManager.planHash)
    }
}

/// An application upgrade with a savepoint: the new job's TaskManagers start beside the old
/// job, the savepoint is taken once they are up, and only the JobManager starts after it.
@Suite struct WarmUpgradePlannerTests {
    let v1: FlinkDeployment = {
        var d = deployment()
        d.spec.job?.upgradeMode = .savepoint
        return d
    }()
    var v2: FlinkDeployment {
        var d = v1
        d.spec.job?.args = ["--rate", "6"]
        return d
    }
    var oldId: String { FlinkCluster.jobId(key: v1.id.key, generation: 1) }
    var newId: String { JobLifecycle.nextJobId(key: v1.id.key, previous: oldId) }

    /// Job `oldId` runs v1; the manifest says v2 (`upgrading`: the upgrade is on record).
    func world(upgrading: Bool, since: Int64 = 1_800_000_000_000, savepoint: String? = nil, jobState: FlinkJobState = .running) -> FlinkObservation {
        var o = observation(v2, rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: oldId, name: "app", state: jobState, allTasksRunning: jobState == .running)],
                            recorded: JobStatus(jobName: "app", jobId: oldId, state: "RUNNING", upgradeSavepointPath: savepoint))
        o.deployed = .deployment(upgrading ? v2 : v1)
        o.reconciliation = ReconciliationStatus(reconciliationTimestamp: since, lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(upgrading ? v2 : v1)),
                                                state: upgrading ? .upgrading : .deployed)
        return o
    }

    var oldPods: [ObservedPod] {
        get throws {
            let old = try layout(v1, world(upgrading: false))
            return ([old.jobManager] + old.taskManagers).map { running($0) }
        }
    }

    func next(_ o: FlinkObservation, restore: String? = nil) throws -> FlinkCluster.Layout {
        try FlinkCluster.layout(of: v2, observation: o, distribution: distribution, jobId: newId, jar: "/flink/usrlib/job.jar", restorePath: restore).get()
    }

    func flinkSteps(_ plan: Plan) -> [FlinkAction] {
        plan.steps.compactMap { if case .domain(let action) = $0 { action } else { nil } }
    }

    /// A JobManager started without TLS by an earlier Flinklet (kept running, see
    /// `keepEarlierRenderings`) is spoken to over plain HTTP by an operator that runs its own
    /// clusters with mutual TLS: its upgrade savepoint is asked for over HTTP, and the successor's
    /// pods are rendered with TLS.
    @Test func aJobManagerStartedWithoutTLSIsUpgradedOverPlainHTTPIntoOneWithTLS() throws {
        let tls = ClusterTLS(keystore: "/state/tls/flinklet.p12", password: "secret")
        var o = world(upgrading: true)
        o.tls = tls
        o.runningScheme = .http
        let standby = try next(o).taskManagers
        let up = planner.plan(input(v2, o, pods: try oldPods + standby.map { running($0) }, generation: 2))
        #expect(flinkSteps(up) == [.stopWithSavepoint(rest: .http(20_000), jobId: oldId, directory: "/state/clusters/default/app/savepoints",
                                                      triggerId: SnapshotTrigger.make(jobId: oldId, type: .upgrade, now: 1_800_000_000_000).id)])
        #expect(up.flinkStatus?.clusterInfo?["rest-url"] == "http://127.0.0.1:20000")
        #expect(standby.allSatisfy { ($0.files["conf/config.yaml"] ?? "").contains("\"security.ssl.internal.enabled\": \"true\"") },
                "the successor's TaskManagers run with TLS")

        o.runningScheme = nil  // the JobManager that runs was started with TLS
        let current = planner.plan(input(v2, o, pods: try oldPods + standby.map { running($0) }, generation: 2))
        let endpoints: [RESTEndpoint?] = flinkSteps(current).map { if case .stopWithSavepoint(let rest, _, _, _) = $0 { rest } else { nil } }
        #expect(endpoints == [.https(20_000)])
        #expect(current.flinkStatus?.clusterInfo?["rest-url"] == "https://127.0.0.1:20000")
    }

    @Test func successiveJobsUseAlternateSidesSoTheirPodsNeverShareNamesOrPorts() throws {
        #expect(FlinkCluster.side(ofJob: newId) != FlinkCluster.side(ofJob: oldId))
        let third = JobLifecycle.nextJobId(key: v1.id.key, previous: newId)
        #expect(FlinkCluster.side(ofJob: third) == FlinkCluster.side(ofJob: oldId) && third != oldId)
        let o = world(upgrading: true)
        let old = try layout(v1, o)
        let new = try next(o)
        #expect(Set(old.taskManagers.map(\.name)).isDisjoint(with: new.taskManagers.map(\.name)))
        #expect(old.jobManager.name == new.jobManager.name, "one JobManager at a time, on the cluster's REST port")
        func ports(_ plan: PodPlan) -> Set<String> {
            // Fixed ports only: a TaskManager's RPC port is the kernel's choice ("0"), fresh per process.
            Set((plan.files["conf/config.yaml"] ?? "").split(separator: "\n")
                .filter { ($0.contains("rpc.port") || $0.contains("data.port")) && !$0.hasSuffix(": \"0\"") }.map(String.init))
        }
        #expect(ports(old.jobManager).isDisjoint(with: ports(new.jobManager)))
        #expect(ports(old.taskManagers[0]).isDisjoint(with: ports(new.taskManagers[0])))
        #expect(new.taskManagers.allSatisfy { $0.files["conf/config.yaml"]?.contains("\"jobmanager.rpc.port\": \"\(20_002 + FlinkCluster.side(ofJob: newId))\"") == true })
    }

    /// A last-state job moving from Flink 1.20 to 2.3 is stopped with a savepoint, never
    /// cancelled to restore from its checkpoint; its new TaskManagers run 2.3 beside the 1.20
    /// job. The same change without a version change cancels (last-state as asked).
    @Test(arguments: [(FlinkVersion.v1_20, true), (.v2_3, false)])
    func aFlinkVersionChangeGoesThroughASavepointEvenInLastStateMode(from version: FlinkVersion, savepoint: Bool) throws {
        var old = deployment(version: version)
        old.spec.job?.upgradeMode = .lastState
        var new = old
        new.spec.flinkVersion = .v2_3
        if version == .v2_3 { new.spec.job?.args = ["--rate", "6"] }
        let from = version == .v1_20 ? older : distribution
        var o = observation(new, rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: oldId, name: "app", state: .running, allTasksRunning: true)],
                            recorded: JobStatus(jobName: "app", jobId: oldId, state: "RUNNING"))
        o.distributions = FlinkDistributions([distribution, older])
        o.deployed = .deployment(new)
        o.reconciliation = ReconciliationStatus(reconciliationTimestamp: 1_800_000_000_000, lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(new)),
                                                state: .upgrading)
        o.recordedClusterInfo = ["flink-version": from.version]
        o.latestCheckpoint = ObservedCheckpoint(path: "/state/clusters/default/app/checkpoints/\(oldId)/chk-3", timestamp: 1_799_999_999_000)
        let oldLayout = try FlinkCluster.layout(of: old, observation: o, distribution: from, jobId: oldId, jar: "/flink/usrlib/job.jar").get()
        let standby = try FlinkCluster.layout(of: new, observation: o, distribution: distribution, jobId: newId, jar: "/flink/usrlib/job.jar").get().taskManagers
        #expect(standby.allSatisfy { $0.environment["FLINK_HOME"] == "/flink" }, "the successor's TaskManagers run 2.3")
        let pods = ([oldLayout.jobManager] + oldLayout.taskManagers + standby).map { running($0) }
        let plan = planner.plan(input(new, o, pods: pods, generation: 2))
        if savepoint {
            #expect(flinkSteps(plan) == [.stopWithSavepoint(rest: .http(20_000), jobId: oldId, directory: "/state/clusters/default/app/savepoints",
                                                            triggerId: SnapshotTrigger.make(jobId: oldId, type: .upgrade, now: 1_800_000_000_000).id)])
            #expect(plan.flinkStatus?.clusterInfo?["flink-version"] == "1.20.5", "the 1.20 JobManager runs until its job made way")
        } else {
            #expect(flinkSteps(plan) == [.cancel(rest: .http(20_000), jobId: oldId)])
        }
        #expect(!plan.steps.contains { if case .stopPod = $0 { true } else { false } }, "the old job's pods stay until it made way")
    }

    @Test func upgradeModeFollowsTheManifestUnlessTheFlinkVersionChanges() {
        func mode(_ manifest: UpgradeMode, running: String?, wanted: FlinkVersion) -> UpgradeMode {
            var d = deployment(version: wanted)
            d.spec.job?.upgradeMode = manifest
            var o = observation(d)
            o.recordedClusterInfo = running.map { ["flink-version": $0] }
            return JobLifecycle.upgradeMode(d.spec.job!, desired: .deployment(d), observation: o)
        }
        #expect(mode(.lastState, running: "1.20.5", wanted: .v2_3) == .savepoint)
        #expect(mode(.lastState, running: "2.3.0", wanted: .v1_20) == .savepoint, "downgrades too")
        #expect(mode(.lastState, running: "2.3.0", wanted: .v2_3) == .lastState)
        #expect(mode(.lastState, running: nil, wanted: .v2_3) == .lastState, "nothing ran yet")
        #expect(mode(.savepoint, running: "1.20.5", wanted: .v2_3) == .savepoint)
        #expect(mode(.stateless, running: "1.20.5", wanted: .v2_3) == .stateless, "stateless only if the manifest says so")
    }

    @Test func theNewTaskManagersStartBesideTheRunningJobBeforeItsSavepoint() throws {
        let plan = planner.plan(input(v2, world(upgrading: false), pods: try oldPods, generation: 2))
        #expect(plan.flinkStatus?.writeAhead == true && plan.flinkStatus?.reconciliation?.state == .upgrading)
        let standby = try next(world(upgrading: true)).taskManagers
        #expect(started(plan).map(\.name) == standby.map(\.name))
        #expect(started(plan).map(\.planHash) == standby.map(\.planHash))
        #expect(!plan.steps.contains { if case .stopPod = $0 { true } else { false } }, "the old job's pods stay")
        #expect(flinkSteps(plan).isEmpty, "no savepoint before the new TaskManagers are up")
        #expect(events(plan) == ["SpecChanged", "Scheduled"])
        #expect(plan.lifecycleState == .upgrading)
    }

    @Test func theSavepointIsTakenOnceTheyAreUpOrAfterTheTimeout() throws {
        let o = world(upgrading: true)
        let standby = try next(o).taskManagers
        let starting = planner.plan(input(v2, o, pods: try oldPods + standby.map { running($0, ready: false) }, generation: 2))
        #expect(flinkSteps(starting).isEmpty && starting.steps.isEmpty)
        let up = planner.plan(input(v2, o, pods: try oldPods + standby.map { running($0) }, generation: 2))
        #expect(flinkSteps(up) == [.stopWithSavepoint(rest: .http(20_000), jobId: oldId, directory: "/state/clusters/default/app/savepoints",
                                                      triggerId: SnapshotTrigger.make(jobId: oldId, type: .upgrade, now: 1_800_000_000_000).id)])
        #expect(up.flinkStatus?.writeAhead == true, "the trigger is on record before the request")
        #expect(started(up).isEmpty)
        let late = world(upgrading: true, since: 1_800_000_000_000 - JobLifecycle.standbyTimeoutMillis - 1)
        let stuck = planner.plan(input(v2, late, pods: try oldPods + standby.map { running($0, ready: false) }, generation: 2))
        #expect(flinkSteps(stuck).count == 1, "TaskManagers that never come up do not hold the upgrade forever")
    }

    @Test func afterTheSavepointOnlyTheJobManagerStartsAndTheWarmTaskManagersStay() throws {
        let o = world(upgrading: true, savepoint: "/sp/1", jobState: .finished)
        let new = try next(o, restore: "/sp/1")
        let pods = try oldPods + new.taskManagers.map { running($0) }
        let plan = planner.plan(input(v2, o, pods: pods, generation: 2))
        #expect(started(plan).isEmpty, "the new JobManager takes the old one's name: it starts once that one is gone")
        let stopped = plan.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(Set(stopped) == Set(try oldPods.map(\.name)))
        #expect(plan.flinkStatus?.jobStatus?.jobId == newId)
        let after = planner.plan(input(v2, o, pods: new.taskManagers.map { running($0) }, generation: 2))
        #expect(started(after).map(\.name) == [new.jobManager.name])
        #expect(started(after).first?.argv.contains("/sp/1") == true)
        #expect(!after.steps.contains { if case .stopPod = $0 { true } else { false } })
    }

    @Test func flippingAllowNonRestoredStateNeverRestartsTheRunningJob() throws {
        // Job `newId` runs v2, restored from /sp/1; the manifest now allows non-restored state
        // (an ignore-class change, read only when a job starts).
        var v3 = v2
        v3.spec.job?.allowNonRestoredState = true
        var o = observation(v3, rest: .answering(taskManagers: 2, slots: 2),
                            jobs: [ObservedJob(id: newId, name: "app", state: .running, allTasksRunning: true)],
                            recorded: JobStatus(jobName: "app", jobId: newId, state: "RUNNING", upgradeSavepointPath: "/sp/1"))
        o.deployed = .deployment(v2)
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.deployment(v2)), state: .deployed)
        let runningPods = try next(o, restore: "/sp/1")
        let plan = planner.plan(input(v3, o, pods: ([runningPods.jobManager] + runningPods.taskManagers).map { running($0) }, generation: 3))
        #expect(!plan.steps.contains { if case .stopPod = $0 { true } else { false } }, "the running JobManager stays")
        #expect(started(plan).isEmpty)
        // The option still reaches the next job that starts from a snapshot.
        let flagged = try FlinkCluster.layout(of: v3, observation: o, distribution: distribution, jobId: newId, jar: "/flink/usrlib/job.jar",
                                              restorePath: "/sp/1").get()
        #expect(flagged.jobManager.argv.contains("--allowNonRestoredState"))
        #expect(!runningPods.jobManager.argv.contains("--allowNonRestoredState"))
    }

    @Test func aSuspensionStartsNothingNew() throws {
        var suspended = v1
        suspended.spec.job?.state = .suspended
        var o = world(upgrading: false)
        o.lastKnown = .deployment(suspended)
        let plan = planner.plan(input(suspended, o, pods: try oldPods, generation: 2))
        #expect(started(plan).isEmpty)
        #expect(flinkSteps(plan).count == 1)
    }

    @Test func aSuspendedJobWhoseClusterIsGoneIsReadyAndNotReconciling() throws {
        // kstatus reads Current, and `kubectl wait --for=condition=Ready` returns: suspended on
        // purpose is where the spec wants the resource.
        var suspended = v1
        suspended.spec.job?.state = .suspended
        var o = observation(suspended, recorded: JobStatus(jobName: "app", jobId: newId, state: "SUSPENDED", upgradeSavepointPath: "/sp/s"))
        o.deployed = .deployment(suspended)
        let plan = planner.plan(input(suspended, o, generation: 2))
        #expect(started(plan).isEmpty)
        #expect(plan.lifecycleState == .suspended)
        let ready = try #require(plan.conditions.first { $0.type == Conditions.ready })
        #expect(ready.status == .true && ready.reason == "Suspended")
        #expect(!plan.conditions.contains { $0.type == Conditions.reconciling || $0.type == Conditions.stalled })
    }
}

@Suite struct PerJobPlannerTests {
    let d = deployment("batch", mode: .perJob, parallelism: 1)

    @Test func theSubmitterStartsWithANewJobManagerOrOnceAnExistingOneAnswersWithoutTheJob() throws {
        let o = observation(d)
        let l = try layout(d, o)
        let submitter = try #require(l.submitter)
        // A JobManager that starts now has no job: its client starts with it (and retries until
        // REST answers), so the job graph is built while the JobManager comes up.
        let first = planner.plan(input(d, o))
        #expect(started(first) == [l.jobManager] + l.taskManagers + [submitter])
        #expect(first.steps.contains { if case .admit(.submission, _, _) = $0 { true } else { false } })
        // Without a free submission slot, the cluster starts alone; the client waits for REST.
        let noSlot = planner.plan(input(d, observation(d, slotFree: false)))
        #expect(started(noSlot) == [l.jobManager] + l.taskManagers)
        // A JobManager that runs already may have the job: no client until it answers without it.
        let notReady = planner.plan(input(d, o, pods: [running(l.jobManager, ready: false)] + l.taskManagers.map { running($0) }))
        #expect(started(notReady).isEmpty)
        let unseen = planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(started(unseen).isEmpty, "a job that could not be listed may exist: no client")
        let answering = observation(d, rest: .answering(taskManagers: 1, slots: 1))
        let ready = planner.plan(input(d, answering, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(started(ready) == [submitter])
        // A JobManager being replaced (another plan's, still there) is not a new one yet.
        let replacing = planner.plan(input(d, o, pods: [ObservedPod(name: l.jobManager.name, phase: .running, ready: true, planHash: "another")]))
        #expect(!started(replacing).contains(submitter))
        #expect(submitter.argv.contains("org.apache.flink.client.cli.CliFrontend"))
        #expect(submitter.argv.suffix(6) == ["run", "--detached", "--class", "dev.Example", "/flink/usrlib/job.jar", "--rate", "5"].suffix(6))
        let config = try #require(submitter.files["conf/config.yaml"])
        #expect(config.contains("\"$internal.pipeline.job-id\": \"\(FlinkCluster.jobId(key: d.id.key, generation: 1))\""))
        #expect(config.contains("\"rest.retry.delay\": \"200ms\"") && config.contains("\"rest.retry.max-attempts\": \"3000\""))
        #expect(submitter.restartPolicy == .never)
    }

    @Test func withoutAFreeSubmissionSlotTheSubmitterWaits() throws {
        let o = observation(d, rest: .answering(taskManagers: 1, slots: 1), slotFree: false)
        let l = try layout(d, o)
        let plan = planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(started(plan).isEmpty)
        #expect(plan.conditions.contains { $0.type == "Reconciling" && $0.reason == "WaitingForSubmissionSlot" })
    }

    /// Found by killing the operator 1.5 s after a per-job manifest landed: the next operator
    /// adopted the client, which then exited with a status it cannot read (not its child), and
    /// the deployment read SubmitFailed and FAILED while its job ran.
    @Test func aClientWhoseJobRunsDidSubmitItWhateverItsExitSays() throws {
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let withJob = observation(d, rest: .answering(taskManagers: 1, slots: 1),
                                  jobs: [ObservedJob(id: jobId, name: "c", state: .running, allTasksRunning: true)],
                                  recorded: JobStatus(jobName: "c", jobId: jobId, state: "RUNNING"))
        let l = try layout(d, withJob)
        var client = running(try #require(l.submitter), ready: false, phase: .failed)
        client.reason = "Unknown"
        let pods = ([l.jobManager] + l.taskManagers).map { running($0) } + [client]
        let plan = planner.plan(input(d, withJob, pods: pods))
        #expect(!events(plan).contains("SubmitFailed"))
        #expect(plan.lifecycleState == .stable)
        // No job listed: the client's failure is the deployment's problem.
        let withoutJob = observation(d, rest: .answering(taskManagers: 1, slots: 1))
        let failed = planner.plan(input(d, withoutJob, pods: pods))
        #expect(events(failed).contains("SubmitFailed"))
        #expect(failed.lifecycleState == .failed)
    }

    @Test func aFinishedJobTearsTheClusterDownAndKeepsTheOutcome() throws {
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let o = observation(d, rest: .answering(taskManagers: 1, slots: 1), jobs: [ObservedJob(id: jobId, name: "c", state: .finished)],
                            recorded: JobStatus(jobName: "c", jobId: jobId, state: "RUNNING"))
        let l = try layout(d, o)
        let submitter = running(try #require(l.submitter), ready: true, phase: .succeeded)
        let plan = planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) } + [submitter]))
        let stopped = plan.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(Set(stopped) == Set([l.jobManager.name, l.submitter!.name] + l.taskManagers.map(\.name)))
        #expect(events(plan).contains("JobStatusChanged") && events(plan).contains("Cleanup"))
        #expect(plan.flinkStatus?.jobStatus?.state == "FINISHED")

        // Afterwards: nothing runs, nothing is started again.
        let after = planner.plan(input(d, observation(d, recorded: plan.flinkStatus?.jobStatus), pods: []))
        #expect(after.steps.isEmpty)
        #expect(after.next == .awaitChange)
        #expect(after.conditions.first { $0.type == "Ready" }?.reason == "JobFinished")
    }
}

@Suite struct SessionPlannerTests {
    let cluster = deployment("session", mode: .session)

    func job(deploymentName: String = "session") -> FlinkSessionJob {
        FlinkSessionJob(metadata: ObjectMeta(name: "counter"), spec: FlinkSessionJobSpec(
            deploymentName: deploymentName,
            job: JobSpec(jarURI: "local:///opt/flink/usrlib/job.jar", parallelism: 1, entryClass: "dev.Example", args: ["--x"]),
            flinkConfiguration: ["execution.checkpointing.interval": "5s", "kubernetes.operator.x": "y"]))
    }

    func sessionInput(_ job: FlinkSessionJob, ready: Bool = true, jobs: [ObservedJob] = [], recorded: JobStatus? = nil,
                      defined: Bool = true, generation: Int64 = 1) -> PlanInput {
        let o = FlinkObservation(distribution: distribution, podRoot: "/p", clusterDirectory: "/c", jar: .success("/flink/usrlib/job.jar"),
                                 rest: ready ? .answering(taskManagers: 1, slots: 2) : .notChecked, jobs: jobs, recordedJob: recorded,
                                 session: SessionClusterObservation(name: "session", isDefined: true, isSession: true, rest: .http(20_000), isReady: ready))
        return PlanInput(id: job.id, resource: defined ? .sessionJob(job) : nil, isDefined: defined, generation: generation, pods: [],
                         domain: o, now: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func aClusterWhoseJobManagerAnswersIsLookedAtSoonWhileItsTaskManagersRegister() throws {
        let o = observation(cluster, rest: .answering(taskManagers: 0, slots: 0))
        let l = try layout(cluster, o)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func pods(startedAgo: TimeInterval?, ready: Bool = true) -> [ObservedPod] {
            var jm = running(l.jobManager, ready: ready)
            jm.startedAt = startedAgo.map { now.addingTimeInterval(-$0) }
            return [jm] + l.taskManagers.map { running($0) }
        }
        #expect(planner.plan(input(cluster, o, pods: pods(startedAgo: 2))).next == .requeue(after: .milliseconds(200)))
        #expect(planner.plan(input(cluster, o, pods: pods(startedAgo: 2, ready: false))).next == .requeue(after: .seconds(1)), "not answering yet")
        #expect(planner.plan(input(cluster, o, pods: pods(startedAgo: 60))).next == .requeue(after: .seconds(1)), "a TaskManager that never registers")
        #expect(planner.plan(input(cluster, o, pods: pods(startedAgo: nil))).next == .requeue(after: .seconds(1)))
        let registered = observation(cluster, rest: .answering(taskManagers: 1, slots: 2))
        #expect(planner.plan(input(cluster, registered, pods: pods(startedAgo: 2))).next == .requeue(after: .seconds(2)), "ready: polled as usual")
    }

    @Test func aJobWhoseTasksDeployIsLookedAtSoonSoItsStatusSaysRunningWithoutDelay() throws {
        let d = deployment()
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let now: Int64 = 1_800_000_000_000
        func next(started agoSeconds: Int64, allTasksRunning: Bool) throws -> ReconcileAction {
            let o = observation(d, rest: .answering(taskManagers: 2, slots: 2),
                                jobs: [ObservedJob(id: jobId, name: "counter", state: .running, startTime: now - agoSeconds * 1000,
                                                   allTasksRunning: allTasksRunning)],
                                recorded: JobStatus(jobName: "app", jobId: jobId, state: "RUNNING"))
            let l = try layout(d, o)
            return planner.plan(input(d, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) })).next
        }
        #expect(try next(started: 2, allTasksRunning: false) == .requeue(after: .milliseconds(200)))
        #expect(try next(started: 60, allTasksRunning: false) == .requeue(after: .seconds(1)), "not for ever")
        #expect(try next(started: 2, allTasksRunning: true) == .requeue(after: .seconds(2)), "running: polled as usual")

        // A session job too.
        let sessionJobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        let deploying = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: sessionJobId, name: "c", state: .running, startTime: now - 2000,
                                                                             allTasksRunning: false)],
                                                  recorded: JobStatus(jobName: "c", jobId: sessionJobId, state: "RUNNING")))
        #expect(deploying.next == .requeue(after: .milliseconds(200)))
    }

    @Test func aSessionJobWaitsForItsClusterThenSubmitsWithItsOwnJobId() {
        let waiting = planner.plan(sessionInput(job(), ready: false))
        #expect(waiting.steps.isEmpty)
        #expect(waiting.conditions.contains { $0.reason == "SessionClusterNotReady" })

        let plan = planner.plan(sessionInput(job()))
        let jobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        #expect(plan.steps.first == .flink(.submit(rest: .http(20_000), jar: "/flink/usrlib/job.jar", JobSubmission(
            jobId: jobId, entryClass: "dev.Example", args: ["--x"], parallelism: 1,
            configuration: ["execution.checkpointing.interval": "5s"]))))
        #expect(plan.flinkStatus?.jobStatus?.jobId == jobId)
    }

    @Test func aSubmittedJobIsNotSubmittedAgain() {
        let jobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        let plan = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: jobId, name: "c", state: .running, allTasksRunning: true)],
                                             recorded: JobStatus(jobId: jobId, state: "RECONCILING")))
        #expect(!plan.steps.contains { if case .domain = $0 { true } else { false } })
        #expect(plan.lifecycleState == .stable)
    }

    @Test func aJobLostWithItsSessionClustersJobManagerIsRecoveredFromItsNewestCheckpoint() throws {
        let jobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        /// Job `jobId` was seen in `state`; the cluster (answering again) lists `jobs`.
        func lost(state: String, jobs: [ObservedJob] = [], upgrading: Bool = false) -> Plan {
            var input = sessionInput(job(), jobs: jobs, recorded: JobStatus(jobId: jobId, state: state, updateTime: "1799999000000",
                                                                             upgradeSavepointPath: "/sp/initial"))
            input.flink?.deployed = .sessionJob(job())
            input.flink?.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.sessionJob(job())),
                                                               state: upgrading ? .upgrading : .deployed)
            input.flink?.latestCheckpoint = ObservedCheckpoint(path: "/c/checkpoints/\(jobId)/chk-7", timestamp: 1_799_999_990_000)
            return planner.plan(input)
        }
        func submissions(_ plan: Plan) -> [JobSubmission] {
            plan.steps.compactMap { if case .domain(.submit(_, _, let submission)) = $0 { submission } else { nil } }
        }
        let recovered = lost(state: "RUNNING")
        let submission = try #require(submissions(recovered).first)
        #expect(submission.savepointPath == "/c/checkpoints/\(jobId)/chk-7", "from its newest checkpoint, not /sp/initial")
        #expect(submission.jobId != jobId, "a new job id")
        #expect(events(recovered).contains("RecoverDeployment"))
        #expect(recovered.flinkStatus?.jobStatus?.upgradeSavepointPath == "/c/checkpoints/\(jobId)/chk-7")

        // Not lost: never submitted yet (or not yet seen), over, or making way for an upgrade.
        #expect(submissions(lost(state: "RECONCILING")).map(\.savepointPath) == ["/sp/initial"], "a submission retried with its own id")
        #expect(submissions(lost(state: "FINISHED")).isEmpty)
        #expect(!events(lost(state: "RUNNING", upgrading: true)).contains("RecoverDeployment"))
        #expect(submissions(lost(state: "RUNNING", jobs: [ObservedJob(id: jobId, name: "c", state: .running)])).isEmpty, "still listed: not lost")
    }

    @Test func aNewGenerationCancelsTheOldJobBeforeSubmitting() {
        let old = FlinkCluster.jobId(key: job().id.key, generation: 1)
        let plan = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: old, name: "c", state: .running)],
                                             recorded: JobStatus(jobId: old, state: "RUNNING"), generation: 2))
        let flinkSteps = plan.steps.compactMap { if case .domain(let action) = $0 { action } else { nil } }
        #expect(flinkSteps == [.cancel(rest: .http(20_000), jobId: old)], "the old job is cancelled; nothing is submitted beside it")
        #expect(plan.flinkStatus == nil, "the old job stays the recorded one until it is seen ended")
        let cancelling = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: old, name: "c", state: .cancelling)],
                                                   recorded: JobStatus(jobId: old, state: "RUNNING"), generation: 2))
        #expect(!cancelling.steps.contains { if case .domain = $0 { true } else { false } }, "on its way out: neither cancelled again nor replaced yet")
        let ended = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: old, name: "c", state: .canceled)],
                                              recorded: JobStatus(jobId: old, state: "RUNNING"), generation: 2))
        let submitted = ended.steps.compactMap { if case .domain(.submit(_, _, let submission)) = $0 { submission } else { nil } }
        #expect(submitted.count == 1 && submitted.first?.jobId != old, "submitted once the old job is seen CANCELED")
    }

    /// A session cluster moving to another Flink version: its running session job is stopped
    /// with a savepoint (even in last-state mode), waits without being submitted while the old
    /// version still answers, and resumes from that savepoint once the JobManager that answers
    /// runs the new version. Status is fed back as the reconciler records it.
    @Test func aSessionJobMovesWithItsClusterToAnotherFlinkVersionThroughASavepoint() throws {
        var spec = job()
        spec.spec.job?.upgradeMode = .lastState
        let jobId = FlinkCluster.jobId(key: spec.id.key, generation: 1)
        var o = sessionInput(spec).flink!
        o.session?.flinkVersion = .v2_3
        o.session?.waitsForJobs = true
        o.answeringFlinkVersion = .v2_2
        o.jobs = [ObservedJob(id: jobId, name: "c", state: .running, allTasksRunning: true)]
        o.recordedJob = JobStatus(jobId: jobId, state: "RUNNING", upgradeSavepointPath: nil)
        o.deployed = .sessionJob(spec)
        o.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.sessionJob(spec)), state: .deployed)
        o.latestCheckpoint = ObservedCheckpoint(path: "/c/checkpoints/\(jobId)/chk-3", timestamp: 1_799_999_999_000)
        var conditions: [Condition] = []
        func plan() -> Plan {
            let plan = planner.plan(PlanInput(id: spec.id, resource: .sessionJob(spec), isDefined: true, generation: 1, pods: [],
                                              conditions: conditions, domain: o, now: Date(timeIntervalSince1970: 1_800_000_000)))
            // What the reconciler records.
            conditions = plan.conditions
            if let status = plan.flinkStatus {
                o.recordedJob = status.jobStatus
                o.reconciliation = status.reconciliation
                o.deployed = status.reconciliation?.lastReconciledSpec.flatMap { JobLifecycle.decodeSpec($0, like: .sessionJob(spec)) }
            }
            return plan
        }
        func flinkSteps(_ plan: Plan) -> [FlinkAction] { plan.steps.compactMap { if case .domain(let action) = $0 { action } else { nil } } }

        // The move begins: a stop-with-savepoint (never a cancel for last-state), said once.
        let stopping = plan()
        guard case .stopWithSavepoint(_, let stopped, _, _)? = flinkSteps(stopping).first else {
            Issue.record("expected a stop-with-savepoint: \(flinkSteps(stopping))"); return
        }
        #expect(stopped == jobId && flinkSteps(stopping).count == 1)
        #expect(stopping.flinkStatus?.writeAhead == true, "the trigger is on record before it is sent")
        #expect(events(stopping).contains("FlinkVersionChange"))
        let reconciling = stopping.conditions.first { $0.type == "Reconciling" }
        #expect(reconciling?.reason == "FlinkVersionChange" && reconciling?.message?.contains("from Flink 2.2 to 2.3") == true, "\(String(describing: reconciling))")
        #expect(stopping.conditions.first { $0.type == "Ready" }?.status == .false)
        #expect(stopping.lifecycleState == .upgrading)
        #expect(!events(plan()).contains("FlinkVersionChange"), "said once")

        // The savepoint completes; the old version still answers: parked, nothing submitted.
        o.pendingSnapshot = .completed(location: "/c/savepoints/savepoint-1")
        o.jobs = [ObservedJob(id: jobId, name: "c", state: .finished)]
        let parked = plan()
        o.pendingSnapshot = nil
        #expect(parked.flinkStatus?.jobStatus?.upgradeSavepointPath == "/c/savepoints/savepoint-1")
        #expect(parked.lifecycleState == .upgrading)
        // The cluster no longer waits (no job runs: it restarts), the old JobManager still answers.
        o.session?.waitsForJobs = false
        let waiting = plan()
        #expect(flinkSteps(waiting).isEmpty, "nothing is submitted to the cluster before it restarts: \(flinkSteps(waiting))")
        #expect(waiting.conditions.first { $0.type == "Ready" }?.reason == "FlinkVersionChange")
        #expect(waiting.observedGeneration == nil, "not where the manifest wants it")

        // The cluster answers on 2.3 (its restart listed no job): resumed from the savepoint,
        // not from the 2.2 checkpoint, as a new job.
        o.answeringFlinkVersion = .v2_3
        o.jobs = []
        let resumed = plan()
        let submission = try #require(flinkSteps(resumed).compactMap { if case .submit(_, _, let s) = $0 { s } else { nil } }.first,
                                      "\(flinkSteps(resumed))")
        #expect(submission.savepointPath == "/c/savepoints/savepoint-1")
        #expect(submission.jobId != jobId)
        #expect(resumed.steps.contains { step in
            if case .event(_, "SpecChanged", let message) = step { message.hasPrefix("Resuming (from /c/savepoints/savepoint-1)") } else { false }
        }, "the event names what it resumes from, not the manifest's last-state: \(resumed.steps)")
        #expect(!resumed.conditions.contains { $0.reason == "FlinkVersionChange" })
        #expect(o.deployed == .sessionJob(spec), "its own spec applies again")
    }

    /// What does not move: a session job whose cluster's new version is not installed (the
    /// cluster keeps its version), one suspended by its own spec, one that finished, one whose
    /// cluster does not wait for it; a stateless job is cancelled and starts again without state;
    /// a job not yet submitted waits for the move.
    @Test func aSessionJobMakesWayForAVersionChangeOnlyWhenItRunsAndTheVersionIsInstalled() throws {
        let jobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        func plan(_ spec: FlinkSessionJob, target: FlinkVersion?, state: String = "RUNNING", flinkState: FlinkJobState = .running,
                  waits: Bool = true) -> Plan {
            var input = sessionInput(spec, jobs: [ObservedJob(id: jobId, name: "c", state: flinkState, allTasksRunning: true)],
                                     recorded: JobStatus(jobId: jobId, state: state))
            input.flink?.session?.flinkVersion = target
            input.flink?.session?.waitsForJobs = waits
            input.flink?.answeringFlinkVersion = .v2_2
            input.flink?.deployed = .sessionJob(spec)
            input.flink?.reconciliation = ReconciliationStatus(lastReconciledSpec: JobLifecycle.specJSONOf(.sessionJob(spec)), state: .deployed)
            return planner.plan(input)
        }
        func moves(_ plan: Plan) -> Bool { plan.conditions.contains { $0.reason == "FlinkVersionChange" } }
        #expect(!moves(plan(job(), target: nil)), "2.3 not installed: the cluster keeps 2.2 and its job runs on")
        #expect(!moves(plan(job(), target: .v2_2)))
        var suspended = job()
        suspended.spec.job?.state = .suspended
        #expect(!moves(plan(suspended, target: .v2_3, state: "SUSPENDED", flinkState: .finished)))
        #expect(!moves(plan(job(), target: .v2_3, state: "FINISHED", flinkState: .finished)), "a finished job is not started again")
        #expect(!moves(plan(job(), target: .v2_3, waits: false)), "a cluster that does not wait for its jobs (it cannot move) has none stopped")
        let stateless = plan(job(), target: .v2_3)  // job() has no upgradeMode: stateless
        #expect(moves(stateless))
        #expect(stateless.steps.contains(.flink(.cancel(rest: .http(20_000), jobId: jobId))), "\(stateless.steps)")
        #expect(stateless.conditions.first { $0.type == "Reconciling" }?.message?.contains("without state") == true)

        // A job not yet submitted is not submitted to a cluster about to move, waiting or not.
        var first = sessionInput(job())
        first.flink?.session?.flinkVersion = .v2_3
        first.flink?.answeringFlinkVersion = .v2_2
        let held = planner.plan(first)
        #expect(!held.steps.contains { if case .domain(.submit) = $0 { true } else { false } }, "\(held.steps)")
        #expect(moves(held))
    }

    @Test func deletingASessionJobCancelsItsJobThenForgetsIt() {
        let jobId = FlinkCluster.jobId(key: job().id.key, generation: 1)
        let live = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: jobId, name: "c", state: .running)],
                                             recorded: JobStatus(jobId: jobId, state: "RUNNING"), defined: false))
        #expect(live.steps.first == .flink(.cancel(rest: .http(20_000), jobId: jobId)))
        #expect(!live.steps.contains(.forget))
        let done = planner.plan(sessionInput(job(), jobs: [ObservedJob(id: jobId, name: "c", state: .canceled)],
                                             recorded: JobStatus(jobId: jobId, state: "RUNNING"), defined: false))
        #expect(done.steps == [.forget])
    }

    @Test func aSessionJobManagerRestartedInPlaceTakesItsTaskManagersWithIt() throws {
        let o = observation(cluster, rest: .answering(taskManagers: 1, slots: 1), sessionJobs: ["counter"])
        let l = try layout(cluster, o)
        let steady = planner.plan(input(cluster, o, pods: ([l.jobManager] + l.taskManagers).map { running($0) }))
        #expect(started(steady).isEmpty, "a JobManager never restarted: its TaskManagers stay")

        var jm = running(l.jobManager)
        jm.restartCount = 1
        let plan = planner.plan(input(cluster, o, pods: [jm] + l.taskManagers.map { running($0) }))
        let stopped = plan.steps.compactMap { if case .stopPod(let name, _) = $0 { name } else { nil } }
        #expect(stopped == l.taskManagers.map(\.name), "the JobManager itself stays: \(stopped)")
        #expect(started(plan).isEmpty, "each starts anew once its old process is gone")
        let gone = planner.plan(input(cluster, o, pods: [jm]))
        #expect(started(gone).map(\.name) == l.taskManagers.map(\.name), "TaskManagers started anew")
        let restartedTaskManagers = started(gone).map { running($0) }
        let after = planner.plan(input(cluster, o, pods: [jm] + restartedTaskManagers))
        #expect(started(after).isEmpty && !after.steps.contains { if case .stopPod = $0 { true } else { false } }, "once per restart")
    }

    @Test func aSessionClusterWithSessionJobsIsNotDeleted() throws {
        let o = observation(cluster, rest: .answering(taskManagers: 1, slots: 1), sessionJobs: ["b", "a"])
        let l = try layout(cluster, o)
        let pods = ([l.jobManager] + l.taskManagers).map { running($0) }
        let blocked = planner.plan(input(cluster, o, pods: pods, defined: false))
        #expect(blocked.steps == [.event(type: .warning, reason: "CleanupFailed", message: "The session jobs [a, b] should be deleted first")])
        #expect(blocked.lifecycleState == .deleting)

        var optOut = cluster
        optOut.spec.flinkConfiguration?[FlinkPlanner.blockOnSessionJobsKey] = "false"
        let deleted = planner.plan(input(optOut, observation(optOut, rest: .answering(taskManagers: 1, slots: 1), sessionJobs: ["a"]),
                                         pods: pods, defined: false))
        #expect(deleted.steps.contains(.stopPod(name: l.jobManager.name, reason: "resource deleted")))
    }

    @Test func deletingADeploymentCancelsItsJobOrStopsItWithASavepointWhenAsked() throws {
        let d = deployment()
        let jobId = FlinkCluster.jobId(key: d.id.key, generation: 1)
        let o = observation(d, rest: .answering(taskManagers: 2, slots: 2), jobs: [ObservedJob(id: jobId, name: "c", state: .running)])
        let l = try layout(d, o)
        let pods = ([l.jobManager] + l.taskManagers).map { running($0) }
        let plan = planner.plan(input(d, o, pods: pods, defined: false))
        #expect(plan.steps.first == .flink(.cancel(rest: .http(20_000), jobId: jobId)))
        #expect(plan.steps.filter { if case .stopPod = $0 { true } else { false } }.count == pods.count)
        #expect(!plan.steps.contains(.forget), "the record stays until no pod is left")
        let gone = planner.plan(input(d, observation(d), pods: [], defined: false))
        #expect(gone.steps == [.removeDirectories(["/state/pods/default/app", "/state/clusters/default/app/checkpoints",
                                                   "/state/clusters/default/app/artifacts"]), .forget])

        // With a savepoint: asked for (on record first), followed, and only then the pods stop.
        let withSavepoint = deployment(configuration: [FlinkPlanner.savepointOnDeletionKey: "true"])
        var o2 = observation(withSavepoint, rest: .answering(taskManagers: 2, slots: 2),
                             jobs: [ObservedJob(id: jobId, name: "c", state: .running)], recorded: JobStatus(jobId: jobId, state: "RUNNING"))
        let trigger = SnapshotTrigger.make(jobId: jobId, type: .upgrade, now: 1_800_000_000_000)
        let asking = planner.plan(input(withSavepoint, o2, pods: pods, defined: false))
        #expect(asking.steps == [.flink(.stopWithSavepoint(rest: .http(20_000), jobId: jobId, directory: "/state/clusters/default/app/savepoints",
                                                           triggerId: trigger.id))])
        #expect(asking.flinkStatus?.writeAhead == true && SnapshotTrigger(asking.flinkStatus?.jobStatus?.savepointInfo) == trigger)
        o2.recordedJob?.savepointInfo = trigger.recorded(in: nil)
        o2.pendingSnapshot = .inProgress
        let waiting = planner.plan(input(withSavepoint, o2, pods: pods, defined: false))
        #expect(waiting.steps.isEmpty && waiting.lifecycleState == .deleting, "never a wait inside the reconcile: look again")
        o2.pendingSnapshot = .completed(location: "file:/state/clusters/default/app/savepoints/savepoint-1")
        let done = planner.plan(input(withSavepoint, o2, pods: pods, defined: false))
        #expect(events(done).first == "SavepointCreated" && done.steps.contains(.stopPod(name: l.jobManager.name, reason: "resource deleted")))
        #expect(!done.steps.contains(.flink(.cancel(rest: .http(20_000), jobId: jobId))))
    }
}

@Suite struct MissingJobManagerTests {
    @Test func aJobManagerLostWhileTheOperatorWasDownIsReportedAsMissing() throws {
        let d = deployment()
        let o = observation(d)
        let l = try layout(d, o)
        var jm = running(l.jobManager, ready: false, phase: .failed)
        jm.reason = "Lost"
        let plan = planner.plan(input(d, o, pods: [jm] + l.taskManagers.map { running($0) }))
        #expect(events(plan) == ["Missing"])
        #expect(plan.flinkStatus?.jobManagerDeploymentStatus == .error)
        #expect(plan.lifecycleState == .failed)
    }
}
