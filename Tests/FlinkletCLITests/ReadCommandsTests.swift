import FlinkResources
import FlinkletTesting
import Foundation
import Store
import Testing
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flinklet get`, `describe`, `events` and `logs`: the read-only commands, run as a child
/// process against a state directory seeded directly through the Store, as an operator that has
/// since stopped would have left it.
///
/// Every time is a whole second some way before the seeding, chosen away from `age()`'s
/// boundaries (1230 s is "20m" from 1200 s to 1259 s), so the ages printed are the same however
/// long the binary takes to start.
@Suite struct ReadCommandsTests {

    // MARK: get

    @Test func getWithoutKindListsBothKindsWithQualifiedNamesAlignedInColumns() throws {
        try withSeededState { state in
            let result = try state.run(["get"])

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "", "\(result)")
            #expect(result.stdoutLines == [
                "NAME                                    JOB STATUS   LIFECYCLE STATE   READY     AGE",
                "flinkdeployment.flink.apache.org/a      RUNNING      STABLE            True      25h",
                "flinkdeployment.flink.apache.org/b                   FAILED            False     20m",
                "flinksessionjob.flink.apache.org/job1   RUNNING      DEPLOYED          Unknown   120m",
            ], "\(result)")
        }
    }

    @Test func getWithAKindListsOnlyThatKindUnqualifiedWhateverItsSpelling() throws {
        try withSeededState { state in
            let deployments = [
                "NAME   JOB STATUS   LIFECYCLE STATE   READY   AGE",
                "a      RUNNING      STABLE            True    25h",
                "b                   FAILED            False   20m",
            ]
            for spelling in ["flinkdep", "fdep", "flinkdeployments", "flinkdeployment", "FlinkDeployment", "flinkdeployments.flink.apache.org"] {
                let result = try state.run(["get", spelling])
                #expect(result.exited && result.status == 0, "\(spelling): \(result)")
                #expect(result.stdoutLines == deployments, "\(spelling): \(result)")
            }
            let sessionJobs = [
                "NAME   JOB STATUS   LIFECYCLE STATE   READY     AGE",
                "job1   RUNNING      DEPLOYED          Unknown   120m",
            ]
            for spelling in ["sessionjob", "sessionjobs", "fsj", "flinksessionjob", "flinksessionjobs"] {
                let result = try state.run(["get", spelling])
                #expect(result.exited && result.status == 0, "\(spelling): \(result)")
                #expect(result.stdoutLines == sessionJobs, "\(spelling): \(result)")
            }
        }
    }

    @Test func getOneResourceByKindSlashNameOrKindAndName() throws {
        try withSeededState { state in
            let expected = [
                "NAME   JOB STATUS   LIFECYCLE STATE   READY   AGE",
                "a      RUNNING      STABLE            True    25h",
            ]
            for arguments in [["flinkdeployment/a"], ["flinkdep", "a"], ["fdep/a"], ["flinkdeployment.flink.apache.org/a"]] {
                let result = try state.run(["get"] + arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                #expect(result.stdoutLines == expected, "\(arguments): \(result)")
            }
            let job = try state.run(["get", "fsj/job1"])
            #expect(job.stdoutLines.last == "job1   RUNNING      DEPLOYED          Unknown   120m", "\(job)")
        }
    }

    @Test func noHeadersDropsTheHeaderAndSizesColumnsToTheRowsAlone() throws {
        try withSeededState { state in
            let result = try state.run(["get", "flinkdep", "--no-headers"])

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "a   RUNNING   STABLE   True    25h",
                "b             FAILED   False   20m",
            ], "\(result)")
        }
    }

    @Test func wideOutputAddsGenerationObservedGenerationAndError() throws {
        try withSeededState { state in
            let result = try state.run(["get", "flinkdep", "-o", "wide"])

            #expect(result.exited && result.status == 0, "\(result)")
            // Compared without trailing blanks: a's ERROR cell is empty.
            #expect(result.stdoutLines.map(Self.trimmingTrailingSpaces) == [
                "NAME   JOB STATUS   LIFECYCLE STATE   READY   AGE   GENERATION   OBSERVED   ERROR",
                "a      RUNNING      STABLE            True    25h   3            2",
                "b                   FAILED            False   20m   1            1          boom: jar not found",
            ], "\(result)")
        }
    }

    @Test func nameOutputPrintsQualifiedKindSlashName() throws {
        try withSeededState { state in
            let all = try state.run(["get", "-o", "name"])
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stdoutLines == [
                "flinkdeployment.flink.apache.org/a",
                "flinkdeployment.flink.apache.org/b",
                "flinksessionjob.flink.apache.org/job1",
            ], "\(all)")

            let one = try state.run(["get", "fsj", "job1", "-o", "name"])
            #expect(one.stdoutLines == ["flinksessionjob.flink.apache.org/job1"], "\(one)")
        }
    }

    @Test func jsonOutputForOneNamedResourceIsTheObjectItself() throws {
        try withSeededState { state in
            let result = try state.run(["get", "flinkdep", "a", "-o", "json"])

            #expect(result.exited && result.status == 0, "\(result)")
            let object = try Self.jsonObject(result.stdout)
            #expect(object["apiVersion"] as? String == "flink.apache.org/v1beta1")
            #expect(object["kind"] as? String == "FlinkDeployment")
            let metadata = try #require(object["metadata"] as? [String: Any], "\(result)")
            #expect(metadata["name"] as? String == "a")
            #expect(metadata["namespace"] as? String == "default")
            #expect(metadata["uid"] as? String == SeededState.uidA)
            #expect(metadata["generation"] as? Int == 3)
            #expect(metadata["creationTimestamp"] as? String == ISO8601DateFormatter().string(from: state.ago(SeededState.ageA)))
            #expect((metadata["annotations"] as? [String: Any])?["flinklet.dev/manifest"] as? String == "manifests/a.yaml")

            let spec = try #require(object["spec"] as? [String: Any], "\(result)")
            #expect(spec["image"] as? String == "flink:2.3")
            let job = try #require(spec["job"] as? [String: Any], "\(result)")
            #expect(job["jarURI"] as? String == "local:///opt/a.jar")
            #expect(job["parallelism"] as? Int == 2)

            let status = try #require(object["status"] as? [String: Any], "\(result)")
            #expect(status["lifecycleState"] as? String == "STABLE")
            #expect(status["observedGeneration"] as? Int == 2)
            #expect((status["jobStatus"] as? [String: Any])?["state"] as? String == "RUNNING")
            let conditions = try #require(status["conditions"] as? [[String: Any]], "\(result)")
            #expect(conditions.count == 1)
            #expect(conditions.first?["type"] as? String == "Ready")
            #expect(conditions.first?["status"] as? String == "True")
        }
    }

    @Test func jsonOutputForSeveralResourcesIsAList() throws {
        try withSeededState { state in
            let result = try state.run(["get", "-o", "json"])

            #expect(result.exited && result.status == 0, "\(result)")
            let list = try Self.jsonObject(result.stdout)
            #expect(list["apiVersion"] as? String == "v1")
            #expect(list["kind"] as? String == "List")
            let items = try #require(list["items"] as? [[String: Any]], "\(result)")
            #expect(items.map { $0["kind"] as? String } == ["FlinkDeployment", "FlinkDeployment", "FlinkSessionJob"])
            #expect(items.map { ($0["metadata"] as? [String: Any])?["name"] as? String } == ["a", "b", "job1"])
            // A resource the operator has not yet observed has no status at all.
            let prod = try Self.jsonObject(try state.run(["get", "flinkdep", "c", "-n", "prod", "-o", "json"]).stdout)
            #expect(prod["status"] == nil)
            #expect((prod["metadata"] as? [String: Any])?["namespace"] as? String == "prod")
            // kubectl prints a List for a kind without a name, even when one resource matches.
            let one = try Self.jsonObject(try state.run(["get", "flinkdep", "-n", "prod", "-o", "json"]).stdout)
            #expect(one["kind"] as? String == "List")
            #expect((one["items"] as? [Any])?.count == 1)
        }
    }

    @Test func yamlOutputShowsTheObjectAndParsesBackToTheSameValueAsJSON() throws {
        try withSeededState { state in
            let result = try state.run(["get", "flinkdep", "a", "-o", "yaml"])

            #expect(result.exited && result.status == 0, "\(result)")
            let lines = result.stdoutLines
            for line in ["apiVersion: flink.apache.org/v1beta1", "kind: FlinkDeployment", "metadata:", "  name: a",
                         "  namespace: default", "  uid: \(SeededState.uidA)", "  generation: 3", "spec:", "status:",
                         "  lifecycleState: STABLE", "  observedGeneration: 2"] {
                #expect(lines.contains(line), "missing \"\(line)\": \(result)")
            }
            let documents = try parseYAML(result.stdout)
            try #require(documents.count == 1, "\(result)")
            let fromYAML = JSONValue(try #require(documents[0].root))
            let json = try state.run(["get", "flinkdep", "a", "-o", "json"])
            let fromJSON = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
            #expect(fromYAML == fromJSON)
        }
    }

    @Test func yamlOutputForSeveralResourcesIsAList() throws {
        try withSeededState { state in
            let result = try state.run(["get", "-o", "yaml"])

            #expect(result.exited && result.status == 0, "\(result)")
            let documents = try parseYAML(result.stdout)
            try #require(documents.count == 1, "\(result)")
            guard case .object(let list) = JSONValue(try #require(documents[0].root)) else {
                Issue.record("not a mapping: \(result)")
                return
            }
            #expect(list["kind"] == .string("List"))
            guard case .array(let items)? = list["items"] else {
                Issue.record("no items: \(result)")
                return
            }
            #expect(items.count == 3)
            #expect(result.stdoutLines.contains("kind: List"), "\(result)")
        }
    }

    /// kubectl prints a List for a kind without a name, however many resources match, in
    /// YAML as in JSON (YAML used to print a lone match as a bare object).
    @Test func yamlOutputForAKindWithoutANameMatchingOneResourceIsAListLikeJSON() throws {
        try withSeededState { state in
            let result = try state.run(["get", "flinkdep", "-n", "prod", "-o", "yaml"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines.contains("kind: List"), "\(result)")
        }
    }

    @Test func namespaceSelectsOneNamespaceAndAllNamespacesAddsANamespaceColumn() throws {
        try withSeededState { state in
            let prod = try state.run(["get", "-n", "prod"])
            #expect(prod.exited && prod.status == 0, "\(prod)")
            #expect(prod.stdoutLines == [
                "NAME                                 JOB STATUS   LIFECYCLE STATE   READY     AGE",
                "flinkdeployment.flink.apache.org/c                                  Unknown   10d",
            ], "\(prod)")

            let all = try state.run(["get", "-A"])
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stdoutLines == [
                "NAMESPACE   NAME                                    JOB STATUS   LIFECYCLE STATE   READY     AGE",
                "default     flinkdeployment.flink.apache.org/a      RUNNING      STABLE            True      25h",
                "default     flinkdeployment.flink.apache.org/b                   FAILED            False     20m",
                "prod        flinkdeployment.flink.apache.org/c                                     Unknown   10d",
                "default     flinksessionjob.flink.apache.org/job1   RUNNING      DEPLOYED          Unknown   120m",
            ], "\(all)")

            // A resource of another namespace is not found in the default one.
            let elsewhere = try state.run(["get", "flinkdep", "c"])
            #expect(elsewhere.exited && elsewhere.status == 1, "\(elsewhere)")
            let named = try state.run(["get", "flinkdep", "c", "--namespace", "prod", "--no-headers"])
            #expect(named.stdoutLines == ["c         Unknown   10d"], "\(named)")
        }
    }

    @Test func nothingToListSaysSoOnStandardErrorAndSucceeds() throws {
        try withScratchDirectory { dir in
            // No database at all.
            let empty = try FlinkletBinary.run(["get", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(empty.exited && empty.status == 0, "\(empty)")
            #expect(empty.stdout == "", "\(empty)")
            #expect(empty.stderrLines == ["No resources found in default namespace."], "\(empty)")

            let all = try FlinkletBinary.run(["get", "-A", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stderrLines == ["No resources found"], "\(all)")

            // A database an operator is creating this instant: schema version 0, not migrated yet.
            try FileManager.default.createDirectory(atPath: dir.path + "/state", withIntermediateDirectories: true)
            try Database(path: dir.path + "/state/state.db", readOnly: false).execute("PRAGMA journal_mode = WAL")
            let creating = try FlinkletBinary.run(["get", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(creating.exited && creating.status == 0, "\(creating)")
            #expect(creating.stderrLines == ["No resources found in default namespace."], "\(creating)")
        }
        try withSeededState { state in
            // A database with resources, none in the namespace asked for.
            let other = try state.run(["get", "-n", "staging"])
            #expect(other.exited && other.status == 0, "\(other)")
            #expect(other.stdout == "", "\(other)")
            #expect(other.stderrLines == ["No resources found in staging namespace."], "\(other)")
        }
    }

    @Test func aMissingNamedResourceIsNotFoundAndFails() throws {
        try withSeededState { state in
            let deployment = try state.run(["get", "flinkdep", "missing"])
            #expect(deployment.exited && deployment.status == 1, "\(deployment)")
            #expect(deployment.stdout == "", "\(deployment)")
            #expect(deployment.stderrLines == [#"Error from server (NotFound): flinkdeployments.flink.apache.org "missing" not found"#], "\(deployment)")

            let job = try state.run(["get", "sessionjob/a"])
            #expect(job.exited && job.status == 1, "\(job)")
            #expect(job.stderrLines == [#"Error from server (NotFound): flinksessionjobs.flink.apache.org "a" not found"#], "\(job)")
        }
    }

    @Test func anUnknownKindIsAUsageError() throws {
        try withSeededState { state in
            let result = try state.run(["get", "widgets"])
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stdout == "", "\(result)")
            #expect(result.stderr.contains(#"the server doesn't have a resource type "widgets""#), "\(result)")
            #expect(result.stderr.contains("flinkdeployment (flinkdep)"), "\(result)")

            let both = try state.run(["get", "flinkdep/a", "b"])
            #expect(both.exited && both.status == 2, "\(both)")
            #expect(both.stderr.contains("there is no need to specify a resource type as a separate argument"), "\(both)")

            let events = try state.run(["events", "widgets/a"])
            #expect(events.exited && events.status == 2, "\(events)")
            #expect(events.stderr.contains(#"resource type "widgets""#), "\(events)")
        }
    }

    // MARK: describe

    @Test func describeShowsFieldsConditionsPodsAndEvents() throws {
        try withSeededState { state in
            let pid = String(getpid())
            let pidHeader = "PID".padding(toLength: max(3, pid.count), withPad: " ", startingAt: 0)
            let expected = [
                "Name:               a",
                "Namespace:          default",
                "Kind:               FlinkDeployment (flink.apache.org/v1beta1)",
                "UID:                \(SeededState.uidA)",
                "Manifest:           manifests/a.yaml",
                "Created:            \(ISO8601DateFormatter().string(from: state.ago(SeededState.ageA)))",
                "Generation:         3 (observed 2)",
                "Lifecycle State:    STABLE",
                "Job Status:         RUNNING",
                "Error:              <none>",
                "Conditions:",
                "  Type    Status   Reason    Age   Message",
                "  Ready   True     Running   20m   The job is running",
                "Pods:",
                "  Name              Role          Process   \(pidHeader)   Age",
                "  a-jobmanager-0    jobmanager    Running   \(pid.padding(toLength: pidHeader.count, withPad: " ", startingAt: 0))   20m",
                "  a-taskmanager-0   taskmanager   Gone      \(pid.padding(toLength: pidHeader.count, withPad: " ", startingAt: 0))   20m",
                "Events:",
                "  Type      Reason    Age                From       Message",
                "  Normal    Submit    20m                flinklet   Submitted job",
                "  Warning   Restart   15m (x3 over 4h)   flinklet   TaskManager restarted",
            ]
            for arguments in [["flinkdep", "a"], ["flinkdeployment/a"], ["fdep/a", "-n", "default"]] {
                let result = try state.run(["describe"] + arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                #expect(result.stderr == "", "\(arguments): \(result)")
                #expect(result.stdoutLines == expected, "\(arguments): \(result)")
            }
        }
    }

    @Test func describeShowsErrorsAndWhatIsMissing() throws {
        try withSeededState { state in
            let failed = try state.run(["describe", "flinkdep", "b"])
            #expect(failed.exited && failed.status == 0, "\(failed)")
            let lines = failed.stdoutLines
            #expect(lines.contains("Generation:         1 (observed 1)"), "\(failed)")
            #expect(lines.contains("Lifecycle State:    FAILED"), "\(failed)")
            #expect(lines.contains("Error:              boom: jar not found"), "\(failed)")
            #expect(lines.contains("Manifest:           <none>"), "\(failed)")
            #expect(!lines.contains { $0.hasPrefix("Job Status:") }, "\(failed)")
            #expect(Array(lines.drop { $0 != "Conditions:" }) == [
                "Conditions:",
                "  Type    Status   Reason   Age   Message",
                "  Ready   False    Failed   20m   The job failed",
                "Pods:",
                "  <none>",
                "Events:",
                "  Type      Reason            Age   From       Message",
                "  Warning   ValidationError   10m   flinklet   bad jar",
            ], "\(failed)")

            let unobserved = try state.run(["describe", "flinkdep/c", "-n", "prod"])
            #expect(unobserved.exited && unobserved.status == 0, "\(unobserved)")
            #expect(Array(unobserved.stdoutLines.drop { !$0.hasPrefix("Generation:") }) == [
                "Generation:         2 (not yet observed)",
                "Lifecycle State:    <none>",
                "Error:              <none>",
                "Conditions:",
                "  <none>",
                "Pods:",
                "  <none>",
                "Events:",
                "  Type     Reason   Age   From       Message",
                "  Normal   Submit   40m   flinklet   Submitted job",
            ], "\(unobserved)")

            let job = try state.run(["describe", "sessionjob", "job1"])
            #expect(job.exited && job.status == 0, "\(job)")
            #expect(job.stdoutLines.contains("Kind:               FlinkSessionJob (flink.apache.org/v1beta1)"), "\(job)")
            #expect(job.stdoutLines.contains("Lifecycle State:    DEPLOYED"), "\(job)")
        }
    }

    @Test func describeOfAMissingResourceIsNotFoundAndFails() throws {
        try withSeededState { state in
            let missing = try state.run(["describe", "flinkdep", "missing"])
            #expect(missing.exited && missing.status == 1, "\(missing)")
            #expect(missing.stdout == "", "\(missing)")
            #expect(missing.stderrLines == [#"Error from server (NotFound): flinkdeployments.flink.apache.org "missing" not found"#], "\(missing)")

            // c lives in prod, not in the default namespace.
            let elsewhere = try state.run(["describe", "flinkdeployment/c"])
            #expect(elsewhere.exited && elsewhere.status == 1, "\(elsewhere)")
            #expect(elsewhere.stderrLines == [#"Error from server (NotFound): flinkdeployments.flink.apache.org "c" not found"#], "\(elsewhere)")
        }
        try withScratchDirectory { dir in
            let noState = try FlinkletBinary.run(["describe", "fsj/x", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(noState.exited && noState.status == 1, "\(noState)")
            #expect(noState.stderrLines == [#"Error from server (NotFound): flinksessionjobs.flink.apache.org "x" not found"#], "\(noState)")
        }
    }

    // MARK: events

    @Test func eventsListsOldestFirstWithRepeatCounts() throws {
        try withSeededState { state in
            let result = try state.run(["events"])

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "", "\(result)")
            #expect(result.stdoutLines == [
                "LAST SEEN   TYPE      REASON            OBJECT                 MESSAGE",
                "60m         Normal    Submit            flinksessionjob/job1   Submitted session job",
                "20m         Normal    Submit            flinkdeployment/a      Submitted job",
                "15m         Warning   Restart           flinkdeployment/a      TaskManager restarted (x3)",
                "10m         Warning   ValidationError   flinkdeployment/b      bad jar",
            ], "\(result)")
        }
    }

    @Test func eventsOfOneResource() throws {
        try withSeededState { state in
            let expected = [
                "LAST SEEN   TYPE      REASON    OBJECT              MESSAGE",
                "20m         Normal    Submit    flinkdeployment/a   Submitted job",
                "15m         Warning   Restart   flinkdeployment/a   TaskManager restarted (x3)",
            ]
            for arguments in [["flinkdep/a"], ["flinkdeployment", "a"]] {
                let result = try state.run(["events"] + arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                #expect(result.stdoutLines == expected, "\(arguments): \(result)")
            }
            let kind = try state.run(["events", "fsj"])
            #expect(kind.stdoutLines.dropFirst() == ["60m         Normal   Submit   flinksessionjob/job1   Submitted session job"], "\(kind)")
        }
    }

    @Test func eventsAreFilteredByNamespace() throws {
        try withSeededState { state in
            let prod = try state.run(["events", "-n", "prod"])
            #expect(prod.exited && prod.status == 0, "\(prod)")
            #expect(prod.stdoutLines == [
                "LAST SEEN   TYPE     REASON   OBJECT              MESSAGE",
                "40m         Normal   Submit   flinkdeployment/c   Submitted job",
            ], "\(prod)")

            let all = try state.run(["events", "-A"])
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stdoutLines == [
                "NAMESPACE   LAST SEEN   TYPE      REASON            OBJECT                 MESSAGE",
                "default     60m         Normal    Submit            flinksessionjob/job1   Submitted session job",
                "prod        40m         Normal    Submit            flinkdeployment/c      Submitted job",
                "default     20m         Normal    Submit            flinkdeployment/a      Submitted job",
                "default     15m         Warning   Restart           flinkdeployment/a      TaskManager restarted (x3)",
                "default     10m         Warning   ValidationError   flinkdeployment/b      bad jar",
            ], "\(all)")

            // c's events are not in the default namespace.
            let elsewhere = try state.run(["events", "flinkdep/c"])
            #expect(elsewhere.exited && elsewhere.status == 0, "\(elsewhere)")
            #expect(elsewhere.stdout == "", "\(elsewhere)")
            #expect(elsewhere.stderrLines == ["No events found in default namespace."], "\(elsewhere)")
        }
    }

    @Test func noEventsSaysSoOnStandardError() throws {
        try withScratchDirectory { dir in
            let result = try FlinkletBinary.run(["events", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdout == "", "\(result)")
            #expect(result.stderrLines == ["No events found in default namespace."], "\(result)")

            let all = try FlinkletBinary.run(["events", "-A", "--state-dir", dir.path + "/state"], in: dir.url)
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stderrLines == ["No events found."], "\(all)")
        }
    }

    // MARK: logs

    @Test func logsDefaultsToTheJobManagerAndPrintsTheRotatedLogFirst() throws {
        try withSeededState { state in
            for arguments in [["a"], ["flinkdep/a"], ["flinkdeployment", "a"]] {
                let result = try state.run(["logs"] + arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                #expect(result.stdout == "jm 1\njm 2\njm 3\njm 4\njm 5\n", "\(arguments): \(result)")
                // a-history-0 has a directory but no log, so it is no pod to choose.
                #expect(result.stderrLines == [#"Defaulted pod to "a-jobmanager-0"; other pods: a-taskmanager-0"#], "\(arguments): \(result)")
            }
            // The only pod is chosen without a word.
            let only = try state.run(["logs", "c", "-n", "prod"])
            #expect(only.exited && only.status == 0, "\(only)")
            #expect(only.stdout == "prod c line\n", "\(only)")
            #expect(only.stderr == "", "\(only)")
        }
    }

    @Test func logsOfAChosenPodByRoleSuffixOrFullName() throws {
        try withSeededState { state in
            for pod in ["taskmanager-0", "a-taskmanager-0"] {
                let result = try state.run(["logs", "a", "--pod", pod])
                #expect(result.exited && result.status == 0, "\(pod): \(result)")
                #expect(result.stdout == "tm 1\ntm 2\n", "\(pod): \(result)")
                #expect(result.stderr == "", "\(pod): \(result)")
            }
            let jobManager = try state.run(["logs", "a", "--pod", "jobmanager-0", "--tail", "1"])
            #expect(jobManager.stdout == "jm 5\n", "\(jobManager)")
        }
    }

    @Test func tailPrintsTheLastLinesOfTheCurrentLog() throws {
        try withSeededState { state in
            let two = try state.run(["logs", "a", "--tail", "2"])
            #expect(two.exited && two.status == 0, "\(two)")
            #expect(two.stdout == "jm 4\njm 5\n", "\(two)")

            let zero = try state.run(["logs", "a", "--tail", "0"])
            #expect(zero.exited && zero.status == 0, "\(zero)")
            #expect(zero.stdout == "", "\(zero)")

            let more = try state.run(["logs", "a", "--pod", "taskmanager-0", "--tail", "10"])
            #expect(more.stdout == "tm 1\ntm 2\n", "\(more)")

            let all = try state.run(["logs", "a", "--tail=-1"])
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stdout == "jm 1\njm 2\njm 3\njm 4\njm 5\n", "\(all)")
        }
    }

    /// `--help` offers `-1 for all`, and kubectl takes `--tail -1` (the value used to be read
    /// as an unknown option unless written `--tail=-1`).
    @Test func tailMinusOneAsASeparateArgumentMeansAll() throws {
        try withSeededState { state in
            let all = try state.run(["logs", "a", "--tail", "-1"])
            #expect(all.exited && all.status == 0, "\(all)")
            #expect(all.stdout == "jm 1\njm 2\njm 3\njm 4\njm 5\n", "\(all)")
        }
    }

    @Test func logsOfAnUnknownPodFailListingThePods() throws {
        try withSeededState { state in
            let result = try state.run(["logs", "a", "--pod", "nope"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdout == "", "\(result)")
            #expect(result.stderrLines == [#"error: pod "nope" not found; pods of a: a-jobmanager-0, a-taskmanager-0"#], "\(result)")
        }
    }

    @Test func logsOfAResourceWithoutPodLogsFail() throws {
        try withSeededState { state in
            for (arguments, message) in [
                (["b"], #"error: no pod logs found for "b" in namespace default"#),
                (["missing"], #"error: no pod logs found for "missing" in namespace default"#),
                (["c"], #"error: no pod logs found for "c" in namespace default"#),
                (["a", "-n", "prod"], #"error: no pod logs found for "a" in namespace prod"#),
            ] {
                let result = try state.run(["logs"] + arguments)
                #expect(result.exited && result.status == 1, "\(arguments): \(result)")
                #expect(result.stdout == "", "\(arguments): \(result)")
                #expect(result.stderrLines == [message], "\(arguments): \(result)")
            }
        }
    }

    @Test func followPrintsLinesAppendedLaterAndFollowsARotation() throws {
        try withSeededState { state in
            let logPath = state.state + "/pods/default/a/a-jobmanager-0/log"
            let follower = try BackgroundProcess([FlinkletBinary.executable.path, "logs", "a", "-f", "--state-dir", state.state],
                                                 workingDirectory: state.dir.path)
            defer { follower.stop() }

            #expect(Self.waitUntil { follower.standardOutput.hasSuffix("jm 5\n") }, "\(follower.standardOutput)")
            // The follower takes the file's size just after printing it: give it time to.
            usleep(400_000)
            let handle = try #require(FileHandle(forWritingAtPath: logPath))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("jm 6\njm 7\n".utf8))
            try handle.close()
            #expect(Self.waitUntil { follower.standardOutput.hasSuffix("jm 7\n") }, "\(follower.standardOutput)")

            // Rotated as the driver does it: the log becomes log.1 and a new log starts.
            try FileManager.default.removeItem(atPath: logPath + ".1")
            try FileManager.default.moveItem(atPath: logPath, toPath: logPath + ".1")
            try Data("jm 8\n".utf8).write(to: URL(fileURLWithPath: logPath))
            #expect(Self.waitUntil { follower.standardOutput.hasSuffix("jm 8\n") }, "\(follower.standardOutput)")

            #expect(follower.process.isRunning, "logs -f exited by itself")
            follower.stop()
            #expect(follower.standardOutput == "jm 1\njm 2\njm 3\njm 4\njm 5\njm 6\njm 7\njm 8\n")
        }
    }

    // MARK: Support

    static func trimmingTrailingSpaces(_ line: String) -> String {
        String(line.reversed().drop { $0 == " " }.reversed())
    }

    static func jsonObject(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    static func waitUntil(timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}

/// A scratch directory whose `state` directory holds what an operator would have stored:
///
/// - FlinkDeployment default/a: generation 3, observed 2, STABLE, job RUNNING, Ready True; a
///   running JobManager pod (this test process) and a gone TaskManager pod; two events, one
///   repeated three times; logs for both pods, the JobManager's rotated once.
/// - FlinkDeployment default/b: generation 1, FAILED with an error, Ready False; one event.
/// - FlinkSessionJob default/job1: DEPLOYED, job RUNNING, no conditions; one event.
/// - FlinkDeployment prod/c: never observed (no status); one event; one pod log.
struct SeededState {
    static let uidA = "0a0a0a0a-0000-4000-8000-00000000000a"
    static let ageA: TimeInterval = 91_800  // 25h30m: "25h"

    let dir: ScratchDirectory
    /// The seeding time, in whole seconds; every stored time is some seconds before it.
    let now: Date

    var state: String { dir.path + "/state" }

    func ago(_ seconds: TimeInterval) -> Date { now.addingTimeInterval(-seconds) }

    /// Runs `flinklet arguments… --state-dir <state>` in the scratch directory.
    func run(_ arguments: [String]) throws -> FlinkletResult {
        try FlinkletBinary.run(arguments + ["--state-dir", state], in: dir.url)
    }

    init(_ dir: ScratchDirectory) throws {
        self.dir = dir
        now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        try seed()
    }

    private func seed() throws {
        // Opened read-write, as the operator does, and closed before any command runs.
        let store = try Store.open(stateDirectory: state)
        let rfc3339 = ISO8601DateFormatter()

        let a = ResourceID(kind: .flinkDeployment, namespace: "default", name: "a")
        var recordA = ResourceRecord(
            id: a, uid: Self.uidA, generation: 3, specHash: "hash-a",
            spec: #"{"image":"flink:2.3","job":{"jarURI":"local:///opt/a.jar","parallelism":2}}"#,
            file: "manifests/a.yaml", createdAt: ago(Self.ageA))
        try recordA.setStatus(FlinkDeploymentStatus(
            jobStatus: JobStatus(state: "RUNNING"), observedGeneration: 2, lifecycleState: .stable,
            conditions: [Condition(type: "Ready", status: .true, reason: "Running", message: "The job is running",
                                   observedGeneration: 2, lastTransitionTime: rfc3339.string(from: ago(1230)))]))
        try store.upsert(recordA)

        let b = ResourceID(kind: .flinkDeployment, namespace: "default", name: "b")
        var recordB = ResourceRecord(id: b, generation: 1, specHash: "hash-b", spec: #"{"image":"flink:2.3"}"#, createdAt: ago(1230))
        try recordB.setStatus(FlinkDeploymentStatus(
            error: "boom: jar not found", observedGeneration: 1, lifecycleState: .failed,
            conditions: [Condition(type: "Ready", status: .false, reason: "Failed", message: "The job failed",
                                   lastTransitionTime: rfc3339.string(from: ago(1230)))]))
        try store.upsert(recordB)

        let job1 = ResourceID(kind: .flinkSessionJob, namespace: "default", name: "job1")
        var recordJob = ResourceRecord(id: job1, generation: 2, specHash: "hash-job1",
                                       spec: #"{"deploymentName":"a","job":{"jarURI":"local:///opt/job1.jar"}}"#,
                                       file: "manifests/job1.yaml", createdAt: ago(7230))  // "120m"
        try recordJob.setStatus(FlinkSessionJobStatus(jobStatus: JobStatus(state: "RUNNING"), observedGeneration: 2, lifecycleState: .deployed))
        try store.upsert(recordJob)

        let c = ResourceID(kind: .flinkDeployment, namespace: "prod", name: "c")
        try store.upsert(ResourceRecord(id: c, generation: 2, specHash: "hash-c", spec: #"{"image":"flink:2.3"}"#,
                                        file: "manifests/c.yaml", createdAt: ago(907_200)))  // 10d12h: "10d"

        try store.recordEvent(EventRecord(key: a.key, type: .normal, reason: "Submit", message: "Submitted job", firstTimestamp: ago(1230)))
        // One event seen three times: first 4h ago, last 15m ago.
        for seconds: TimeInterval in [14_430, 4_000, 930] {
            try store.recordEvent(EventRecord(key: a.key, type: .warning, reason: "Restart", message: "TaskManager restarted",
                                              firstTimestamp: ago(seconds)))
        }
        try store.recordEvent(EventRecord(key: b.key, type: .warning, reason: "ValidationError", message: "bad jar", firstTimestamp: ago(630)))
        try store.recordEvent(EventRecord(key: job1.key, type: .normal, reason: "Submit", message: "Submitted session job", firstTimestamp: ago(3630)))
        try store.recordEvent(EventRecord(key: c.key, type: .normal, reason: "Submit", message: "Submitted job", firstTimestamp: ago(2430)))

        // Pods of a, both "run" as this test process: the JobManager with its true start time
        // (alive), the TaskManager with another (its process is gone, the pid reused).
        let pid = getpid()
        let ticks = try Self.ownStartTicks()
        for (pod, role, startTicks) in [("a-jobmanager-0", "jobmanager", ticks), ("a-taskmanager-0", "taskmanager", ticks &+ 1)] {
            let directory = "\(state)/pods/default/a/\(pod)"
            let spec: [String: Any] = [
                "spec": [
                    "name": "default/\(pod)", "argv": ["java", "-jar", "flink.jar"], "workingDirectory": directory,
                    "logPath": directory + "/log",
                    "labels": ["flinklet.dev/owner": a.key, "flinklet.dev/role": role, "flinklet.dev/plan-hash": "plan"],
                ],
                "pid": Int(pid), "pgid": Int(pid), "processStartTicks": Int(startTicks), "startedAt": ago(1230).timeIntervalSinceReferenceDate,
            ]
            try store.savePod(PodRecordRow(name: "default/\(pod)", owner: a.key, pid: pid, pgid: pid, processStartTicks: startTicks,
                                           specHash: "spec-\(role)", spec: try JSONSerialization.data(withJSONObject: spec),
                                           startedAt: ago(1230)))
        }

        try dir.write("state/pods/default/a/a-jobmanager-0/log.1", "jm 1\njm 2\n")
        try dir.write("state/pods/default/a/a-jobmanager-0/log", "jm 3\njm 4\njm 5\n")
        try dir.write("state/pods/default/a/a-taskmanager-0/log", "tm 1\ntm 2\n")
        try dir.makeDirectory("state/pods/default/a/a-history-0")
        try dir.write("state/pods/prod/c/c-jobmanager-0/log", "prod c line\n")
    }

    /// Field 22 of /proc/self/stat: this process's start time in clock ticks after boot.
    static func ownStartTicks() throws -> UInt64 {
        let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        // Fields after the command (which may hold spaces) start with field 3, the state.
        let fields = try #require(stat.split(separator: ")").last).split(separator: " ")
        return try #require(UInt64(fields[22 - 3]), "\(stat)")
    }
}

/// Runs `body` with a freshly seeded state directory, removed afterwards.
func withSeededState<T>(_ body: (SeededState) throws -> T) throws -> T {
    try withScratchDirectory { dir in try body(try SeededState(dir)) }
}
