import FlinkletTesting
import Foundation
import Testing

/// `flinklet diff`: the file against what the operator runs (the Store), as a unified diff
/// with the operator's classification of each change; exit 0 same, 1 different, 2 error.
@Suite struct DiffCommandTests {
    static let web = ManifestText.deployment(name: "web")

    @Test func noDifferenceExitsZeroAndPrintsNothing() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, status: status(.stable, observed: 1, ready: .true))
            // Reformatted: still no difference.
            try ws.write("web.json", """
                {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "metadata": {"name": "web"},
                 "spec": {"mode": "application", "flinkVersion": "v2_3",
                          "job": {"jarURI": "local:///opt/flink/usrlib/flinklet-counter-job.jar", "args": ["--rate", "20"],
                                  "parallelism": 1, "upgradeMode": "savepoint"},
                          "jobManager": {"resource": {"memory": "768m"}}, "taskManager": {"resource": {"memory": "1g"}}}}
                """)
            for file in ["manifests/web.yaml", "web.json"] {
                let result = try ws.run(["diff", "-f", file])
                #expect(result.exited && result.status == 0, "\(file): \(result)")
                #expect(result.stdout == "", "\(file): \(result)")
            }
        }
    }

    @Test func aDifferenceIsAUnifiedDiffUnderTheKindOfChangeItIsAndExitsOne() throws {
        try withWorkspace { ws in
            try ws.seed(Self.web, status: status(.stable, observed: 1))
            try ws.write("web.yaml", ManifestText.deployment(name: "web", args: ["--rate", "30"]))
            let result = try ws.run(["diff", "-f", "web.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdoutLines == [
                "# upgrade (savepoint): spec.job.args",
                "--- live/flinkdeployment/default/web",
                "+++ file/flinkdeployment/default/web",
                "@@ -8,7 +8,7 @@",
                "   job:",
                "     args:",
                "     - --rate",
                #"-    - "20""#,
                #"+    - "30""#,
                "     jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar",
                "     parallelism: 1",
                "     upgradeMode: savepoint",
            ], "\(result)")
        }
    }

    @Test func eachKindOfChangeIsNamedLargestFirstWithTheUpgradeModeOfTheFile() throws {
        try withWorkspace { ws in
            try ws.seed(Self.web, status: status(.stable, observed: 1))
            try ws.write("web.yaml", ManifestText.deployment(name: "web", args: ["--rate", "30"], replicas: 2, upgradeMode: "stateless"))
            let result = try ws.run(["diff", "-f", "web.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(Array(result.stdoutLines.prefix(5)) == [
                "# upgrade (stateless): spec.job.args",
                "# scale: spec.taskManager.replicas",
                "# ignore: spec.job.upgradeMode",
                "--- live/flinkdeployment/default/web",
                "+++ file/flinkdeployment/default/web",
            ], "\(result)")
            #expect(result.stdoutLines.contains("+    replicas: 2"), "\(result)")
            #expect(result.stdoutLines.contains("-    upgradeMode: savepoint"), "\(result)")
            #expect(result.stdoutLines.contains("+    upgradeMode: stateless"), "\(result)")
        }
    }

    @Test func theLiveSideIsTheLastReconciledSpec() throws {
        try withWorkspace { ws in
            let newer = ManifestText.deployment(name: "web", args: ["--rate", "30"])
            // The operator has read the newer file but still runs the older spec.
            try ws.seed(newer, status: status(.upgrading, observed: 1), lastReconciledFrom: Self.web)
            try ws.write("web.yaml", newer)
            let result = try ws.run(["diff", "-f", "web.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdoutLines.first == "# upgrade (savepoint): spec.job.args", "\(result)")
        }
    }

    @Test func aResourceTheOperatorDoesNotKnowIsACreate() throws {
        try withWorkspace { ws in
            try ws.write("web.yaml", Self.web)
            let result = try ws.run(["diff", "-f", "web.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            let lines = result.stdoutLines
            #expect(Array(lines.prefix(4)) == [
                "# create", "--- live/flinkdeployment/default/web", "+++ file/flinkdeployment/default/web", "@@ -0,0 +1,21 @@",
            ], "\(result)")
            #expect(lines.dropFirst(4).allSatisfy { $0.hasPrefix("+") }, "\(result)")
            #expect(lines.count == 25, "\(result)")
        }
    }

    @Test func anInvalidFileExitsTwoWithItsDiagnostics() throws {
        try withWorkspace { ws in
            let bad = ManifestText.application(name: "bad", upgradeMode: "savepiont")
            try ws.write("bad.yaml", bad)
            let result = try ws.run(["diff", "-f", "bad.yaml"])
            #expect(result.exited && result.status == 2, "\(result)")
            let at = try #require(position(of: "savepiont", in: bad))
            #expect(result.stderrLines.first == "bad.yaml:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)", "\(result)")
            #expect(result.stdout == "", "\(result)")
        }
    }

    @Test func anUnreadableStateDirectoryExitsTwo() throws {
        try withWorkspace { ws in
            try ws.write("web.yaml", Self.web)
            try ws.write(".flinklet/state.db", String(repeating: "not a database ", count: 100))
            let result = try ws.run(["diff", "-f", "web.yaml"])
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.hasPrefix("error: "), "\(result)")
        }
    }

    @Test func aMissingFileIsAUsageErrorExitingTwo() throws {
        try withWorkspace { ws in
            let result = try ws.run(["diff", "-f", "nope.yaml"])
            #expect(result.exited && result.status == 2, "\(result)")
        }
    }

    @Test func kubectlExternalDiffRunsOnLiveAndMergedDirectoriesAndItsStatusIsPassedOn() throws {
        try withWorkspace { ws in
            try ws.seed(Self.web, status: status(.stable, observed: 1))
            try ws.write("in.yaml", ManifestText.deployment(name: "web", args: ["--rate", "30"]) + "---\n" + ManifestText.deployment(name: "new"))
            // Lists both directories and shows one file of each, then exits with $EXIT.
            try writeExecutable("""
                #!/bin/sh
                echo "flags: $1"
                echo "live: $(basename "$2") $(ls "$2")"
                echo "merged: $(basename "$3") $(ls "$3" | tr '\\n' ' ')"
                grep -h -- '- "' "$2"/* "$3"/flink.apache.org.v1beta1.FlinkDeployment.default.web | sed 's/^ *//'
                exit $EXIT

                """, to: ws.path + "/ext.sh")
            let result = try ws.run(["diff", "-f", "in.yaml"], environment: ["KUBECTL_EXTERNAL_DIFF": "./ext.sh -u", "EXIT": "1"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdoutLines == [
                "flags: -u",
                "live: LIVE flink.apache.org.v1beta1.FlinkDeployment.default.web",
                "merged: MERGED flink.apache.org.v1beta1.FlinkDeployment.default.new flink.apache.org.v1beta1.FlinkDeployment.default.web ",
                #"- "20""#,
                #"- "30""#,
            ], "\(result)")

            let same = try ws.run(["diff", "-f", "in.yaml"], environment: ["KUBECTL_EXTERNAL_DIFF": "./ext.sh", "EXIT": "0"])
            #expect(same.exited && same.status == 0, "\(same)")
            let failing = try ws.run(["diff", "-f", "in.yaml"], environment: ["KUBECTL_EXTERNAL_DIFF": "./ext.sh", "EXIT": "3"])
            #expect(failing.exited && failing.status == 3, "\(failing)")
        }
    }
}
