import Foundation
import Testing

/// `flinklet validate -o json`: one JSON object on standard output, parsed here with JSONSerialization.
@Suite("flinklet validate -o json")
struct ValidateJSONOutputTests {

    /// The parsed report, or a test failure naming the output that did not parse.
    func report(_ result: FlinkletResult) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(result)")
    }

    @Test func invalidRunReportsResourcesAndDiagnosticsWithAllFields() throws {
        try withScratchDirectory { dir in
            let bad = ManifestText.application(name: "bad-app", upgradeMode: "savepiont")
            try dir.write("good.yaml", ManifestText.application(name: "good-app"))
            try dir.write("bad.yaml", bad)
            let at = try #require(position(of: "savepiont", in: bad))
            let documentLine = try #require(position(of: "apiVersion", in: bad)).line

            let result = try FlinkletBinary.run(["validate", "-f", "good.yaml", "-f", "bad.yaml", "-o", "json"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderr == "", "JSON mode keeps diagnostics in the JSON")
            let json = try report(result)
            #expect(Set(json.keys) == ["valid", "resources", "diagnostics", "skipped"])
            #expect(json["valid"] as? Bool == false)

            let resources = try #require(json["resources"] as? [[String: Any]])
            try #require(resources.count == 2)
            for resource in resources {
                #expect(Set(resource.keys) == ["kind", "namespace", "name", "file", "line", "valid"])
                #expect(resource["kind"] as? String == "FlinkDeployment")
                #expect(resource["namespace"] as? String == "default")
                #expect(resource["line"] as? Int == documentLine)
            }
            #expect(resources[0]["name"] as? String == "good-app")
            #expect(resources[0]["file"] as? String == "good.yaml")
            #expect(resources[0]["valid"] as? Bool == true)
            #expect(resources[1]["name"] as? String == "bad-app")
            #expect(resources[1]["file"] as? String == "bad.yaml")
            #expect(resources[1]["valid"] as? Bool == false)

            let diagnostics = try #require(json["diagnostics"] as? [[String: Any]])
            try #require(diagnostics.count == 1)
            let diagnostic = diagnostics[0]
            #expect(Set(diagnostic.keys) == ["severity", "file", "line", "column", "field", "message", "resource"])
            #expect(diagnostic["severity"] as? String == "error")
            #expect(diagnostic["file"] as? String == "bad.yaml")
            #expect(diagnostic["line"] as? Int == at.line)
            #expect(diagnostic["column"] as? Int == at.column)
            #expect(diagnostic["field"] as? String == "spec.job.upgradeMode")
            #expect(diagnostic["message"] as? String
                == #"Unsupported value: "savepiont": supported values: "stateless", "savepoint", "last-state""#)
            #expect(diagnostic["resource"] as? String == "FlinkDeployment/default/bad-app")
        }
    }

    @Test func validRunWithAWarningIsValidAndListsTheWarning() throws {
        try withScratchDirectory { dir in
            try dir.write("manifests/warned.yaml", ManifestText.sessionWithServiceAccount(name: "warned"))
            try dir.write("manifests/job.yaml", ManifestText.sessionJob(name: "job", deployment: "warned"))

            let result = try FlinkletBinary.run(["validate", "--filename", "manifests", "--output", "json"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            let json = try report(result)
            #expect(json["valid"] as? Bool == true)
            let resources = try #require(json["resources"] as? [[String: Any]])
            #expect(resources.map { $0["file"] as? String } == ["manifests/job.yaml", "manifests/warned.yaml"])
            #expect(resources.map { $0["kind"] as? String } == ["FlinkSessionJob", "FlinkDeployment"])
            #expect(resources.allSatisfy { $0["valid"] as? Bool == true })
            let diagnostics = try #require(json["diagnostics"] as? [[String: Any]])
            try #require(diagnostics.count == 1)
            #expect(diagnostics[0]["severity"] as? String == "warning")
            #expect(diagnostics[0]["field"] as? String == "spec.serviceAccount")
            #expect(diagnostics[0]["file"] as? String == "manifests/warned.yaml")
        }
    }

    @Test func unreadableFileMakesTheReportInvalidWithADiagnosticButNoResource() throws {
        try withScratchDirectory { dir in
            try dir.write("syntax.yaml", "kind: [FlinkDeployment\n")

            let result = try FlinkletBinary.run(["validate", "-f", "syntax.yaml", "-o", "json"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            let json = try report(result)
            #expect(json["valid"] as? Bool == false)
            #expect((json["resources"] as? [Any])?.isEmpty == true)
            let diagnostics = try #require(json["diagnostics"] as? [[String: Any]])
            try #require(diagnostics.count == 1)
            #expect(diagnostics[0]["severity"] as? String == "error")
            #expect(diagnostics[0]["file"] as? String == "syntax.yaml")
            #expect((diagnostics[0]["message"] as? String)?.hasPrefix("invalid YAML: ") == true)
        }
    }

    @Test func standardInputAppearsAsDashInJSON() throws {
        let result = try FlinkletBinary.run(
            ["validate", "-f", "-", "-o", "json"],
            stdin: Data(ManifestText.application(name: "piped", upgradeMode: "savepiont").utf8))

        #expect(result.status == 1, "\(result)")
        let json = try report(result)
        let resources = try #require(json["resources"] as? [[String: Any]])
        #expect(resources.map { $0["file"] as? String } == ["-"])
        let diagnostics = try #require(json["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.map { $0["file"] as? String } == ["-"])
    }
}
