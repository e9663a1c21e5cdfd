import FlinkResources
import Manifests
import Testing

/// `flinklet.dev/jar-sha256`: the pinned checksum of a job's jar. Its format is checked where
/// it is written (file:line:column, field path); FKO ignores it, so it stays portable.
@Suite struct JarPinTests {
    static let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

    func diagnostics(_ text: String) -> [String] { check(text).diagnostics.map(\.description) }

    @Test func aPinOf64HexDigitsInAnyCaseIsValid() {
        for pin in [Self.digest, Self.digest.uppercased()] {
            let file = check(edited(deploymentBase, [.insert(after: 4, "  annotations: {flinklet.dev/jar-sha256: \"\(pin)\"}")]))
            #expect(file.diagnostics.isEmpty, "\(file.diagnostics)")
            #expect(file.objects.first?.resource?.metadata.pinnedJarSHA256 == Self.digest)
        }
        let sessionJob = check(edited(sessionJobBase, [.insert(after: 4, "  annotations:\n    flinklet.dev/jar-sha256: \(Self.digest)")]))
        #expect(sessionJob.diagnostics.isEmpty, "\(sessionJob.diagnostics)")
    }

    @Test(arguments: [
        (String(Self.digest.dropLast()), "63 digits"),
        (Self.digest + "0", "65 digits"),
        (String(Self.digest.dropLast()) + "g", "not hex"),
        ("sha256:" + Self.digest, "a prefix"),
        ("", "empty"),
    ])
    func aPinThatIsNot64HexDigitsIsAnErrorAtItsValue(pin: String, what: String) {
        let text = edited(deploymentBase, [.insert(after: 4, "  annotations:\n    flinklet.dev/jar-sha256: \"\(pin)\"")])
        #expect(diagnostics(text) == [
            #"case.yaml:6:30: metadata.annotations[flinklet.dev/jar-sha256]: Invalid value: "\#(pin)": must be the SHA-256 of the job's jar as 64 hexadecimal digits, as `sha256sum job.jar` prints it"#,
        ], "\(what)")
        #expect(check(text).objects.first?.isValid == false)
    }

    @Test func aPinOnAResourceWithoutAJobIsAWarning() {
        let session = edited(deploymentBase, [.insert(after: 4, "  annotations: {flinklet.dev/jar-sha256: \(Self.digest)}"),
                                              .delete(13), .delete(14), .delete(15)])
        let file = check(session)
        #expect(file.diagnostics.map(\.description) == [
            "case.yaml:5:42: warning: metadata.annotations[flinklet.dev/jar-sha256]: there is no job jar to pin: the checksum is not used",
        ])
        #expect(file.objects.first?.isValid == true)
    }

    @Test func forKubernetesThePinIsAWarningNotAnError() {
        let text = edited(portableBase, [.insert(after: 4, "  annotations: {flinklet.dev/jar-sha256: \(Self.digest)}")])
        #expect(portability(text) == [])
        let set = ManifestSet(files: [check(text)]).checkingPortability(for: .kubernetes)
        #expect(set.diagnostics.warnings.map(\.description) == [
            "case.yaml:5:17: warning: metadata.annotations[flinklet.dev/jar-sha256]: FKO ignores the pin and runs the jar unverified; keep it for Flinklet",
        ])
    }
}
