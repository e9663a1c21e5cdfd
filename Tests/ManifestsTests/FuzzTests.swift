import FlinkletTesting
import FlinkResources
import Manifests
import Testing
import YAML

/// Property tests: whatever bytes a manifest file holds, `ManifestReader.read` returns (no trap,
/// no hang, well under a second) and its answer is coherent — an unreadable file says why with
/// an error, every object is either valid or carries an error, and every error has a message
/// and points into the file it is about.
///
/// Inputs come from a seeded generator, so a failure names a seed and case that reproduce it.
@Suite("FuzzTests")
struct FuzzTests {
    static let manifest = """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: fuzz-app
          namespace: default
        spec:
          flinkVersion: v2_3
          mode: application
          flinkConfiguration:
            taskmanager.numberOfTaskSlots: "2"
            execution.checkpointing.interval: 10s
          jobManager:
            resource:
              memory: 1024m
              cpu: 1
          taskManager:
            replicas: 1
            resource:
              memory: 1024m
          job:
            jarURI: local:///opt/flink/job.jar
            parallelism: 2
            upgradeMode: savepoint
            args: ["--rate", "10"]

        """

    static let seeds: [UInt64] = [0x5EED_0001, 0x5EED_0002, 0x5EED_0003, 0x5EED_0004]

    // MARK: Generators

    /// Fragments that mean something to a YAML scanner.
    static let punctuation: [String] = [
        ":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a", "&a ", "*a", "*a ", "!!", "!!str ", "!!int ",
        "!!binary ", "!", "\t", "#", " #", "|", ">", "|-", "'", "\"", "?", "? ", "%", "@", "`", "~", "\\",
        "<<: *a", "\n", " ", "  ", "\r", "\r\n", "---\n", "...\n", "--- ", "%YAML 1.1\n", "\u{FEFF}",
        "{{", "]]", "[[", "\\u0000", "\u{85}", "\u{2028}", "é", "😀",
    ]

    /// Replacement values for the token-level mutations: wrong types, nulls, aliases, values at
    /// and past numeric limits, and very long text.
    static let values: [String] = [
        "[1,2]", "{a: b}", "~", "null", "\"\"", "''", "[]", "{}", "[[[[[[[[]]]]]]]]", "{a: {b: {c: [d]}}}",
        "99999999999999999999", "-99999999999999999999", "2147483648", "-2147483649", "4294967296",
        "0", "-1", "1.5", "-.inf", ".nan", "1e400", "true", "no", "0x1F", "0o777",
        "*a", "&a x", "&a {x: 1}", "!!binary aGk=", "!!str 5", "!!int x", "!!float", "! 7",
        "{", "[", "\"unterminated", "'unterminated", "|", ">-", "- x", "x: y", "? x",
        "\"\\u00e9\\t\\n\\\\\"", "\"\\x00\"", "2048m", "2Gi", "1.5Gi", "0m", "-1g", "1e9", "8000000t",
        "session", "per-job", "last-state", "stateless", "suspended", "v1_20", "FlinkSessionJob", "List", "v1",
        "local://relative.jar", "file:///opt/../x.jar", "http://", "s3://bucket/job.jar", "/opt/job.jar",
        "Invalid_Name", "a-", "-a", "fuzz app", "ünï", "😀",
        String(repeating: "x", count: 10_000),
        String(repeating: "9", count: 5_000),
        "\"" + String(repeating: "\\u00e9", count: 2_000) + "\"",
        String(repeating: "é", count: 3_000),
        "local:///" + String(repeating: "a/", count: 2_000) + "job.jar",
        "[" + Array(repeating: "\"x\"", count: 1_000).joined(separator: ", ") + "]",
    ]

    static let keys: [String] = [
        "apiVersion", "kind", "metadata", "name", "namespace", "spec", "status", "job", "jobManager",
        "taskManager", "replicas", "resource", "memory", "cpu", "parallelism", "jarURI", "args", "mode",
        "flinkConfiguration", "podTemplate", "upgradeMode", "state", "generation", "labels", "<<", "\"\"",
        "? x", "[k]", "{k: v}", "~", "1", "unknownField", "spce", "taskmanager.numberOfTaskSlots",
        "rest.port", "$internal.x", "kubernetes.cluster-id", "high-availability.type",
        String(repeating: "k", count: 2_000),
    ]

    /// (a) Fully random bytes, 0–2000 of them.
    static func randomBytes(_ random: inout SplitMix64) -> [UInt8] {
        (0..<Int.random(in: 0...2_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Random text from an alphabet a YAML scanner reacts to, so more of it gets past the scanner.
    static func randomYAMLishBytes(_ random: inout SplitMix64) -> [UInt8] {
        var bytes: [UInt8] = []
        let count = Int.random(in: 0...2_000, using: &random)
        while bytes.count < count {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: bytes += Array(punctuation.randomElement(using: &random)!.utf8)
            case 1: bytes += Array(keys.randomElement(using: &random)!.prefix(40).utf8)
            case 2: bytes += Array(values.randomElement(using: &random)!.prefix(40).utf8)
            default: bytes.append(UInt8.random(in: 0x20...0x7E, using: &random))
            }
        }
        return bytes
    }

    /// (b) The valid manifest after 1–4 byte-level edits.
    static func byteMutation(_ random: inout SplitMix64) -> [UInt8] {
        var bytes = Array(manifest.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<9, using: &random) {
            case 0 where position < bytes.count:  // flip one bit
                bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where position < bytes.count:  // overwrite with a random byte
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 2:  // insert a random byte
                bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
            case 3, 4:  // insert YAML punctuation
                bytes.insert(contentsOf: Array(punctuation.randomElement(using: &random)!.utf8), at: position)
            case 5:  // delete a few bytes
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.removeSubrange(position..<end)
            case 6:  // truncate
                bytes.removeSubrange(position...)
            case 7:  // duplicate a line (often a duplicate key)
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                let index = Int.random(in: 0..<lines.count, using: &random)
                lines.insert(lines[index], at: index)
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default:  // delete a line
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                lines.remove(at: Int.random(in: 0..<lines.count, using: &random))
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            }
        }
        return bytes
    }

    /// (c) The valid manifest after 1–3 token-level edits: a value or key swapped for something
    /// of another type or size, an indentation change, an anchor and merge, a second document.
    static func tokenMutation(_ random: inout SplitMix64) -> [UInt8] {
        var lines = manifest.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let index = Int.random(in: 0..<lines.count, using: &random)
            let line = lines[index]
            let indent = String(line.prefix { $0 == " " })
            let colon = line.range(of: ":")
            switch Int.random(in: 0..<7, using: &random) {
            case 0, 1, 2:  // replace the value
                guard let colon else { continue }
                lines[index] = String(line[..<colon.upperBound]) + " " + values.randomElement(using: &random)!
            case 3:  // replace the key
                guard let colon else { continue }
                lines[index] = indent + keys.randomElement(using: &random)! + line[colon.lowerBound...]
            case 4:  // indent or dedent
                lines[index] = Bool.random(using: &random) ? "  " + line : String(line.dropFirst(min(2, indent.count)))
            case 5:  // an anchored mapping and a merge of it
                lines.insert(indent + "base: &a {x: 1}", at: index)
                lines.insert(indent + "<<: *a", at: Int.random(in: index...lines.count, using: &random))
            default:  // a second document: the manifest again, or something else
                let second = Bool.random(using: &random) ? manifest : values.randomElement(using: &random)!
                lines += ["---"] + second.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            }
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    // MARK: Properties

    struct Stats {
        var cases = 0, unreadable = 0, withValidObject = 0, withInvalidObject = 0
        var slowest: Duration = .zero
        var failures: [String] = []
    }

    /// Reads one input and checks every property, recording what it found in `stats`.
    static func check(_ bytes: [UInt8], path: String, label: String, into stats: inout Stats) {
        let clock = ContinuousClock()
        var result: ManifestFile?
        let elapsed = clock.measure { result = ManifestReader.read(bytes: bytes, path: path) }
        stats.cases += 1
        stats.slowest = max(stats.slowest, elapsed)
        guard let file = result else { return }

        var problems: [String] = []
        if elapsed >= .seconds(1) { problems.append("took \(elapsed)") }
        if file.path != path { problems.append("path is \(file.path)") }
        if file.isReadable {
            for (i, object) in file.objects.enumerated() {
                if object.isValid {
                    stats.withValidObject += 1
                    if object.diagnostics.hasErrors { problems.append("object \(i) is valid but has errors") }
                } else {
                    stats.withInvalidObject += 1
                    if !object.diagnostics.hasErrors { problems.append("object \(i) is invalid without an error") }
                }
            }
        } else {
            stats.unreadable += 1
            if !file.fileDiagnostics.hasErrors { problems.append("unreadable without an error") }
            if !file.objects.isEmpty { problems.append("unreadable but has \(file.objects.count) objects") }
        }
        // Lines as libyaml counts them: any of \n, \r, NEL, LS, PS ends one (an upper bound).
        // libyaml ends the stream with a line break of its own, so an error found at the end of
        // a file without a final newline points at column 1 of the line after the last one.
        let lineBreaks = bytes.reduce(0) { $0 + ([0x0A, 0x0D, 0x85, 0xA8, 0xA9].contains($1) ? 1 : 0) }
        for diagnostic in file.diagnostics where diagnostic.isError {
            if diagnostic.message.isEmpty { problems.append("error without a message at \(diagnostic.path)") }
            if diagnostic.location?.file != path {
                problems.append("error located in \(diagnostic.location?.file ?? "nil"): \(diagnostic)")
            }
            if let mark = diagnostic.location?.mark, !(1...lineBreaks + 2 ~= mark.line) || mark.column < 1 {
                problems.append("error at \(mark), outside the input: \(diagnostic)")
            }
            if diagnostic.message.contains("internal error") { problems.append("internal error: \(diagnostic)") }
        }
        if !problems.isEmpty, stats.failures.count < 5 {
            let shown = String(decoding: bytes.prefix(600), as: UTF8.self)
            stats.failures.append("\(label): \(problems.joined(separator: "; "))\ninput: \(shown.debugDescription)")
        }
    }

    static func expectCoherent(_ stats: Stats, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(stats.failures.isEmpty, "\(stats.failures.joined(separator: "\n\n"))", sourceLocation: sourceLocation)
        #expect(stats.slowest < .seconds(1), "slowest case took \(stats.slowest)", sourceLocation: sourceLocation)
    }

    static func path(_ seed: UInt64, _ i: Int) -> String { i % 50 == 0 ? "-" : "fuzz/\(String(seed, radix: 16))/case-\(i).yaml" }

    // MARK: Tests

    @Test func seedManifestIsValid() throws {
        let file = ManifestReader.read(bytes: Array(Self.manifest.utf8), path: "fuzz.yaml")
        #expect(file.isReadable)
        #expect(file.diagnostics.map(\.description) == [])
        let object = try #require(file.objects.first)
        #expect(file.objects.count == 1)
        #expect(object.isValid)
        #expect(object.id?.name == "fuzz-app")
        #expect(object.id?.namespace == "default")
    }

    @Test(.timeLimit(.minutes(1)), arguments: seeds)
    func randomBytesAreRejectedCoherently(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var stats = Stats()
        for i in 0..<200 {
            Self.check(Self.randomBytes(&random), path: Self.path(seed, i), label: "random bytes seed \(seed) case \(i)", into: &stats)
        }
        for i in 200..<300 {
            Self.check(Self.randomYAMLishBytes(&random), path: Self.path(seed, i), label: "random YAML-ish seed \(seed) case \(i)", into: &stats)
        }
        Self.expectCoherent(stats)
        #expect(stats.cases == 300)
        #expect(stats.unreadable > 150, "random bytes are almost never YAML")
    }

    @Test(.timeLimit(.minutes(1)), arguments: seeds)
    func byteMutationsOfAValidManifest(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var stats = Stats()
        for i in 0..<600 {
            Self.check(Self.byteMutation(&random), path: Self.path(seed, i), label: "byte mutation seed \(seed) case \(i)", into: &stats)
        }
        Self.expectCoherent(stats)
        #expect(stats.cases == 600)
        // The mutations reach every outcome, so the properties are exercised on each.
        #expect(stats.unreadable > 0)
        #expect(stats.withInvalidObject > 0)
        #expect(stats.withValidObject > 0)
    }

    @Test(.timeLimit(.minutes(1)), arguments: seeds)
    func tokenMutationsOfAValidManifest(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var stats = Stats()
        for i in 0..<400 {
            Self.check(Self.tokenMutation(&random), path: Self.path(seed, i), label: "token mutation seed \(seed) case \(i)", into: &stats)
        }
        Self.expectCoherent(stats)
        #expect(stats.cases == 400)
        #expect(stats.unreadable > 0)
        #expect(stats.withInvalidObject > 0)
        #expect(stats.withValidObject > 0)
    }

    @Test func generatorIsDeterministic() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        #expect(Self.byteMutation(&a) == Self.byteMutation(&b))
        #expect(Self.tokenMutation(&a) == Self.tokenMutation(&b))
        #expect(Self.randomBytes(&a) == Self.randomBytes(&b))
        var c = SplitMix64(seed: 0)
        // Reference values of SplitMix64 for seed 0.
        #expect(c.next() == 0xE220_A839_7B1D_CDAF)
        #expect(c.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    /// Inputs found by reading the validation code that made `read` trap (arithmetic overflow,
    /// Double→Int64 conversion, stack overflow on alias-nested depth): now each is a diagnostic.
    @Test(arguments: [
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata: {name: slots}
        spec:
          flinkVersion: v2_3
          mode: application
          flinkConfiguration: {taskmanager.numberOfTaskSlots: "9223372036854775807"}
          taskManager: {replicas: 2}
          job: {jarURI: "local:///opt/flink/job.jar", parallelism: 2}
        """,
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata: {name: mem}
        spec:
          flinkVersion: v2_3
          mode: session
          flinkConfiguration:
            jobmanager.memory.jvm-metaspace.size: 8388607t
            jobmanager.memory.off-heap.size: 8388607t
          jobManager: {resource: {memory: 1024m}}
        """,
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata: {name: mem}
        spec:
          flinkVersion: v2_3
          mode: session
          flinkConfiguration: {jobmanager.memory.jvm-overhead.fraction: "1"}
          jobManager: {resource: {memory: "9223372036854775807"}}
        """,
        FuzzTests.aliasNestedDeepManifest,
    ])
    func hostileValuesDoNotTrap(manifest: String) {
        var stats = Stats()
        Self.check(Array(manifest.utf8), path: "hostile.yaml", label: "hostile", into: &stats)
        Self.expectCoherent(stats)
    }

    /// 40 anchored lists of 120 brackets, each nesting the previous one by alias: about 10 KB
    /// whose tree is 4,800 levels deep although `maxDepth` is 128.
    static var aliasNestedDeepManifest: String {
        let open = String(repeating: "[", count: 120), close = String(repeating: "]", count: 120)
        var text = """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata: {name: deep}
            spec:
              flinkVersion: v2_3
              mode: session
              podTemplate:
                x0: &a0 \(open)x\(close)

            """
        for i in 1..<40 { text += "    x\(i): &a\(i) \(open)*a\(i - 1)\(close)\n" }
        return text
    }
}

