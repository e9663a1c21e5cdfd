import Foundation
import Testing

/// Runs the Argo CD health checks shipped in docs/argocd with a real Lua interpreter (Debian's
/// `lua5.4`, installed by hack/install-deps.sh) against statuses recorded from real Flinklet
/// runs (Fixtures/health, from `flinklet get -o json`), as Argo CD runs them: `obj` is the live
/// object, the script returns `{status, message}`.
@Suite struct ArgoHealthCheckTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/health")

    /// Fixture → what our check must say.
    static let expected: [(fixture: String, status: String)] = [
        ("flinkdeployment--application-deploying", "Progressing"),
        ("flinkdeployment--application-tasks-starting", "Progressing"),
        ("flinkdeployment--application-stable", "Healthy"),
        ("flinkdeployment--application-upgrading", "Progressing"),
        ("flinkdeployment--application-suspended", "Healthy"),
        ("flinkdeployment--application-spec-error", "Degraded"),
        ("flinkdeployment--application-job-failed", "Degraded"),
        ("flinkdeployment--application-jobmanager-error", "Degraded"),
        ("flinkdeployment--application-deleting", "Progressing"),
        ("flinkdeployment--session-deploying", "Progressing"),
        ("flinkdeployment--session-stable", "Healthy"),
        ("flinksessionjob--created", "Progressing"),
        ("flinksessionjob--submitted", "Progressing"),
        ("flinksessionjob--stable", "Healthy"),
        ("flinksessionjob--job-failed", "Degraded"),
    ]

    /// `value` as a Lua expression (JSON objects and arrays become tables; null becomes nil).
    static func lua(_ value: Any) -> String {
        switch value {
        case let dictionary as [String: Any]:
            let fields = dictionary.keys.sorted().map { key in "[\(quoted(key))] = \(lua(dictionary[key]!))" }
            return "{" + fields.joined(separator: ", ") + "}"
        case let array as [Any]:
            return "{" + array.map(lua).joined(separator: ", ") + "}"
        case let string as String:
            return quoted(string)
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            return number.stringValue
        default:
            return "nil"
        }
    }

    static func quoted(_ string: String) -> String {
        var out = "\""
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\" + String(byte)
            }
        }
        return out + "\""
    }

    /// Runs `script` with `obj` set to the fixture; returns (status, message).
    static func run(_ script: URL, fixture: String) throws -> (status: String, message: String) {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(fixture + ".json")))
        let program = """
            obj = \(lua(object))
            local hs = dofile(\(quoted(script.path)))
            io.write(tostring(hs.status), "\\t", tostring(hs.message))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["lua5.4", "-"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(program.utf8))
        try input.fileHandleForWriting.close()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LuaFailure(message: "lua5.4 exited \(process.terminationStatus) (install it: hack/install-deps.sh): \(problem)")
        }
        let parts = answer.split(separator: "\t", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
    }

    struct LuaFailure: Error, CustomStringConvertible { var message: String; var description: String { message } }

    @Test(arguments: expected)
    func ourHealthCheckReadsRecordedStatusesRight(fixture: String, status: String) throws {
        let kind = fixture.hasPrefix("flinksessionjob") ? "flinksessionjob" : "flinkdeployment"
        let script = Self.repository.appendingPathComponent("docs/argocd/\(kind)-health.lua")
        let answer = try Self.run(script, fixture: fixture)
        #expect(answer.status == status, "\(fixture): \(answer.message)")
        #expect(!answer.message.isEmpty && answer.message != "nil")
    }

    @Test func everyFixtureIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".json") }
        #expect(Set(files.map { String($0.dropLast(5)) }) == Set(Self.expected.map(\.fixture)))
    }

    /// The fields Argo CD's built-in check reads are filled as the Kubernetes operator fills them:
    /// `reconciliationStatus.state` DEPLOYED once a spec was deployed (job or session cluster),
    /// `jobManagerDeploymentStatus` one of upstream's values; no `reconciliationStatus.error`
    /// (upstream has none; errors are `status.error`).
    @Test(arguments: expected.filter { $0.fixture.hasPrefix("flinkdeployment") && !$0.fixture.contains("deploying") })
    func theFieldsArgoCDsBuiltInCheckReadsAreFilledAsUpstreamFillsThem(fixture: String, status: String) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent(fixture + ".json"))) as? [String: Any])
        let recorded = try #require(object["status"] as? [String: Any])
        let reconciliation = try #require(recorded["reconciliationStatus"] as? [String: Any], "\(fixture)")
        #expect(["DEPLOYED", "UPGRADING", "ROLLING_BACK", "ROLLED_BACK"].contains(reconciliation["state"] as? String ?? ""))
        #expect(reconciliation["error"] == nil)
        #expect(["READY", "DEPLOYED_NOT_READY", "DEPLOYING", "MISSING", "ERROR"].contains(recorded["jobManagerDeploymentStatus"] as? String ?? ""))
    }
}
