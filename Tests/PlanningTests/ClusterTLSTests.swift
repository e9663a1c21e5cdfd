import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

/// Every cluster of the operator's runs with mutual TLS: REST and internal SSL from the state
/// directory's keystore, jar submission over REST only where session jobs need it, the password
/// in the 0600 configuration and never in an argv.
@Suite struct ClusterTLSTests {
    static let distribution = FlinkDistribution(home: "/flink", version: "2.3.0", java: "/usr/bin/java",
                                                classpath: ["/flink/lib/flink-dist-2.3.0.jar"], jvmOptions: [])
    static let tls = ClusterTLS(keystore: "/state/tls/flinklet.p12", password: "0123456789abcdef0123456789abcdef")

    static func deployment(_ mode: DeploymentMode, configuration: [String: String] = [:]) -> FlinkDeployment {
        FlinkDeployment(metadata: ObjectMeta(name: "app"), spec: FlinkDeploymentSpec(
            job: mode == .session ? nil : JobSpec(jarURI: "local:///opt/flink/usrlib/job.jar", parallelism: 1, entryClass: "dev.Example"),
            flinkConfiguration: FlinkConfiguration(configuration), flinkVersion: .v2_3,
            jobManager: JobManagerSpec(resource: Resource(memory: "768m")),
            taskManager: TaskManagerSpec(resource: Resource(memory: "1024m")), mode: mode))
    }

    static func layout(_ d: FlinkDeployment, tls: ClusterTLS? = tls) throws -> FlinkCluster.Layout {
        var observation = FlinkObservation(distribution: distribution, podRoot: "/state/pods/default/app", clusterDirectory: "/state/clusters/default/app",
                                           ports: Array(20_000..<(20_000 + FlinkCluster.portCount(d.spec))))
        observation.tls = tls
        return try FlinkCluster.layout(of: d, observation: observation, distribution: distribution,
                                       jobId: d.spec.effectiveMode == .session ? nil : FlinkCluster.jobId(key: d.id.key, generation: 1),
                                       jar: "/flink/usrlib/job.jar").get()
    }

    static func config(_ plan: PodPlan) throws -> String { try #require(plan.files["conf/config.yaml"]) }

    static let restLines = [
        "\"security.ssl.rest.enabled\": \"true\"", "\"security.ssl.rest.authentication-enabled\": \"true\"",
        "\"security.ssl.rest.keystore\": \"/state/tls/flinklet.p12\"", "\"security.ssl.rest.truststore\": \"/state/tls/flinklet.p12\"",
        "\"security.ssl.rest.keystore-password\": \"\(tls.password)\"", "\"security.ssl.rest.truststore-password\": \"\(tls.password)\"",
        "\"security.ssl.rest.key-password\": \"\(tls.password)\"", "\"security.ssl.algorithms\": \"\(ClusterTLS.cipherSuites)\"",
    ]
    static let internalLines = [
        "\"security.ssl.internal.enabled\": \"true\"", "\"security.ssl.internal.keystore\": \"/state/tls/flinklet.p12\"",
        "\"security.ssl.internal.truststore\": \"/state/tls/flinklet.p12\"", "\"security.ssl.internal.key-password\": \"\(tls.password)\"",
    ]

    @Test(arguments: [DeploymentMode.application, .perJob, .session])
    func everyJVMOfEveryModeRunsWithMutualTLSAndTheJobManagerIsProbedOverIt(mode: DeploymentMode) throws {
        let l = try Self.layout(Self.deployment(mode))
        for plan in [l.jobManager] + l.taskManagers {
            let config = try Self.config(plan)
            for line in Self.restLines + Self.internalLines { #expect(config.contains(line + "\n"), "\(plan.name): \(line)") }
            #expect(!plan.argv.joined(separator: " ").contains(Self.tls.password), "\(plan.name): the password is never in an argv")
            #expect(!plan.environment.values.contains { $0.contains(Self.tls.password) })
        }
        #expect(l.jobManager.readiness == .httpsGet(port: 20000, path: "/overview"))
    }

    @Test(arguments: [(DeploymentMode.application, "false"), (.perJob, "false"), (.session, "true")])
    func onlyASessionClusterTakesJarsOverREST(mode: DeploymentMode, submit: String) throws {
        let config = try Self.config(try Self.layout(Self.deployment(mode)).jobManager)
        #expect(config.contains("\"web.submit.enable\": \"\(submit)\"\n"))
    }

    @Test func thePerJobClientPresentsTheCertificateToo() throws {
        let submitter = try #require(try Self.layout(Self.deployment(.perJob)).submitter)
        let config = try Self.config(submitter)
        for line in Self.restLines { #expect(config.contains(line + "\n"), "\(line)") }
        #expect(!config.contains("security.ssl.internal"), "a client has no internal endpoints")
        #expect(!submitter.argv.joined(separator: " ").contains(Self.tls.password))
    }

    @Test func aManifestsOwnSSLOptionsAreReplaced() throws {
        let d = Self.deployment(.perJob, configuration: ["security.ssl.rest.enabled": "false", "security.ssl.internal.keystore": "/secrets/ks.jks",
                                                         "security.ssl.rest.cert.fingerprint": "ab:cd"])
        let l = try Self.layout(d)
        for plan in [l.jobManager, try #require(l.submitter)] {
            let config = try Self.config(plan)
            #expect(config.contains("\"security.ssl.rest.enabled\": \"true\"\n"))
            #expect(!config.contains("/secrets/ks.jks") && !config.contains("fingerprint"), "\(plan.name)")
        }
    }

    @Test func withoutTLSNothingChanges() throws {
        let l = try Self.layout(Self.deployment(.application), tls: nil)
        #expect(!(try Self.config(l.jobManager)).contains("security.ssl"))
        #expect(l.jobManager.readiness == .httpGet(port: 20000, path: "/overview"))
    }
}
