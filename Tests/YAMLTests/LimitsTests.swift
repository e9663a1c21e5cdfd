import FlinkletTesting
import Testing
import YAML

/// Hostile input must be rejected quickly with a `YAMLError`, never trap or hang.
@Suite("Parser: limits and hostile input")
struct LimitsTests {
    /// `a: &a [lol × 10]`, then each level an anchored list of 10 aliases of the previous level.
    static func billionLaughs(levels: Int) -> String {
        let names = (0..<levels).map { String(UnicodeScalar(UInt8(ascii: "a") + UInt8($0))) }
        var lines = ["a: &a [" + Array(repeating: "\"lol\"", count: 10).joined(separator: ", ") + "]"]
        for level in 1..<levels {
            let alias = "*" + names[level - 1]
            lines.append("\(names[level]): &\(names[level]) [" + Array(repeating: alias, count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test(arguments: [9, 10])
    func billionLaughsIsRejectedQuickly(levels: Int) throws {
        let text = Self.billionLaughs(levels: levels)
        #expect(text.utf8.count < 1000)
        let clock = ContinuousClock()
        var error: YAMLError?
        let elapsed = clock.measure { error = parseError(text) }
        #expect(error?.reason == .aliasExpansion)
        #expect(error?.message.contains("100000") == true)
        #expect(error?.mark?.line == 5, "the fifth level is the first to expand past 100,000 nodes")
        #expect(elapsed < .milliseconds(500), "rejection took \(elapsed)")
    }

    @Test func aliasExpansionBelowTheLimitIsAccepted() throws {
        // Four levels expand to 1 + 10 + 100 + 1000 lists and strings: far below the default limit.
        let root = try parseRoot(Self.billionLaughs(levels: 4))
        let d = try #require(root["d"]?.sequence)
        #expect(d.count == 10)
        #expect(d[9].sequence?[9].sequence?[9].sequence?[9] == Node(.scalar(Scalar("lol", style: .doubleQuoted))))
    }

    @Test func aliasExpansionLimitCountsEveryExpandedNode() throws {
        let text = "a: &a [1, 2, 3]\nb: *a\nc: *a\n"  // each alias stands for 4 nodes
        var limits = ParserLimits()
        limits.maxAliasExpansion = 8
        #expect(try parseYAML(text, limits: limits).count == 1)
        limits.maxAliasExpansion = 7
        let error = try #require(parseError(text, limits: limits))
        #expect(error.reason == .aliasExpansion)
        #expect(error.mark == mark(3, 4))
        #expect(error.message.contains("\"*a\""))
    }

    @Test func deepFlowNestingIsRejected() throws {
        let text = String(repeating: "[", count: 10_000)
        let clock = ContinuousClock()
        var error: YAMLError?
        let elapsed = clock.measure { error = parseError(text) }
        #expect(error?.reason == .tooDeep)
        #expect(error?.mark == mark(1, 129), "the 129th bracket is one level too deep")
        #expect(error?.message == "nesting is deeper than the limit of 128 levels")
        #expect(elapsed < .milliseconds(500))
    }

    @Test func deepFlowMappingNestingIsRejected() throws {
        let error = try #require(parseError(String(repeating: "{a: ", count: 10_000)))
        #expect(error.reason == .tooDeep)
    }

    @Test func deepBlockNestingIsRejected() throws {
        var text = ""
        for level in 0..<300 { text += String(repeating: " ", count: level) + "k:\n" }
        let error = try #require(parseError(text))
        #expect(error.reason == .tooDeep)
        #expect(error.mark == mark(129, 129))
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let atLimit = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        var node = try parseRoot(atLimit)
        var depth = 1
        while let inner = node.sequence?.first {
            node = inner
            depth += 1
        }
        #expect(depth == 128)

        let beyond = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(parseError(beyond)?.reason == .tooDeep)
    }

    @Test func customDepthLimit() throws {
        var limits = ParserLimits()
        limits.maxDepth = 3
        #expect(try parseYAML("a: {b: [1]}", limits: limits).count == 1)
        let error = try #require(parseError("a: {b: [{c: 1}]}", limits: limits))
        #expect(error.reason == .tooDeep)
        #expect(error.mark == mark(1, 9))
    }

    @Test func inputOverTheDefaultSizeLimitIsRefusedBeforeParsing() throws {
        let limit = ParserLimits().maxBytes
        #expect(limit == 4 * 1024 * 1024)
        // Not even valid YAML: the size check comes first.
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: limit + 1)
        let error = try #require(parseError(bytes))
        #expect(error.reason == .tooLarge)
        #expect(error.mark == nil)
        #expect(error.message == "file is \(limit + 1) bytes, larger than the limit of \(limit) bytes")
    }

    @Test func customSizeLimit() throws {
        var limits = ParserLimits()
        limits.maxBytes = 10
        #expect(try parseYAML("a: 1234567", limits: limits).first?.root?["a"]?.resolved == .int(1_234_567))
        let error = try #require(parseError("a: 12345678", limits: limits))
        #expect(error.reason == .tooLarge)
        #expect(error.message == "file is 11 bytes, larger than the limit of 10 bytes")
    }

    static let badBytes: [[UInt8]] = [
        [0xFF, 0xFE, 0x41],                       // UTF-16LE byte order mark, then half a code unit
        [0xC3],                                   // lone lead byte
        [0x61, 0x3A, 0x20, 0xC3],                 // "a: " and a truncated sequence
        [0x61, 0x3A, 0x20, 0xC3, 0x28],           // invalid continuation byte
        [0x61, 0x3A, 0x20, 0x80],                 // stray continuation byte
        [0x61, 0x3A, 0x20, 0xC0, 0xAF],           // overlong encoding of "/"
        [0x61, 0x3A, 0x20, 0xED, 0xA0, 0x80],     // UTF-8-encoded surrogate
        [0x61, 0x3A, 0x20, 0xF4, 0x90, 0x80, 0x80], // beyond U+10FFFF
        [0x61, 0x3A, 0x20, 0x00],                 // NUL
        [0x00],
        [0x61, 0x3A, 0x20, 0x62, 0x07],           // BEL control character
        [0x61, 0x3A, 0x20, 0x1B, 0x5B, 0x33, 0x31, 0x6D], // ANSI escape sequence
    ]

    @Test(arguments: badBytes)
    func encodingErrorsAreYAMLErrors(bytes: [UInt8]) throws {
        let error = try #require(parseError(bytes))
        #expect(error.reason == .syntax)
        #expect(!error.message.isEmpty)
        #expect(error.message.contains("UTF-8 or UTF-16"), "reader errors say what text is expected: \(error.message)")
    }

    @Test func utf16WithByteOrderMarkIsRead() throws {
        let text = "name: ünï\n"
        let le: [UInt8] = [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let be: [UInt8] = [0xFE, 0xFF] + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        for bytes in [le, be] {
            let root = try #require(try parseYAML(bytes).first?.root)
            #expect(root["name"]?.resolved == .string("ünï"))
        }
    }

    @Test func utf8ByteOrderMarkIsSkipped() throws {
        let root = try #require(try parseYAML([0xEF, 0xBB, 0xBF] + Array("a: 1\n".utf8)).first?.root)
        #expect(keys(root) == ["a"])
        #expect(root.pair("a")?.key.mark == mark(1, 1))
    }

    @Test(arguments: 0..<4)
    func randomBinaryNeverTraps(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        var rejected = 0
        for _ in 0..<100 {
            let count = Int.random(in: 0...4096, using: &random)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            let elapsed = clock.measure {
                do { _ = try parseYAML(bytes) } catch { rejected += 1 }
            }
            #expect(elapsed < .milliseconds(500))
        }
        #expect(rejected > 90, "almost all random binary is not YAML text")
    }
}

/// Parsing work grows linearly with the input, so large (but allowed) files stay cheap.
@Suite("Parser: linear time")
struct LinearTimeTests {
    /// Regression: appending to an open sequence used to copy its items (the array was bound
    /// out of the stack frame while the frame still held it), so an n-item sequence took O(n²):
    /// 20,000 items took about 5 s in a debug build, a 4 MiB `[0,0,...]` would have taken hours.
    /// 40,000 items: quadratic would be ~20 s, linear is well under a second; the 4 s bound
    /// leaves room for a loaded 2-core machine.
    @Test(.timeLimit(.minutes(1)), arguments: ["flow", "block"])
    func longSequenceParsesInLinearTime(style: String) throws {
        let count = 40_000
        let text = style == "flow"
            ? "[" + Array(repeating: "0", count: count).joined(separator: ",") + "]"
            : String(repeating: "- 0\n", count: count)
        let clock = ContinuousClock()
        var items = 0
        let elapsed = try clock.measure { items = try parseRoot(text).sequence?.count ?? 0 }
        #expect(items == count)
        #expect(elapsed < .seconds(4), "\(count) items took \(elapsed)")
    }

    @Test(.timeLimit(.minutes(1)))
    func longMappingParsesInLinearTime() throws {
        let count = 40_000
        let text = (0..<count).map { "key\($0): \($0)" }.joined(separator: "\n")
        let clock = ContinuousClock()
        var pairs = 0
        let elapsed = try clock.measure { pairs = try parseRoot(text).mapping?.count ?? 0 }
        #expect(pairs == count)
        #expect(elapsed < .seconds(4), "\(count) keys took \(elapsed)")
    }
}

@Suite("Parser: aliases and the depth limit")
struct AliasDepthTests {
    /// `maxDepth` bounds nesting as written and through aliases: an alias inside an anchored node
    /// that itself nests an alias stacks the depths (40 lines of 120 brackets would give a tree
    /// 4,800 levels deep, which recursive consumers walk — a crash in a podTemplate before).
    @Test func aliasesCannotNestDeeperThanTheDepthLimit() throws {
        let open = String(repeating: "[", count: 120), close = String(repeating: "]", count: 120)
        var text = "a0: &a0 \(open)x\(close)\n"
        for i in 1..<40 { text += "a\(i): &a\(i) \(open)*a\(i - 1)\(close)\n" }
        let error = try #require(parseError(text))
        #expect(error.reason == .tooDeep)
        #expect(error.mark == mark(2, 129))  // the alias *a0, after "a1: &a1 " and 120 brackets
    }

    @Test func aliasesWithinTheDepthLimitAreFine() throws {
        let root = try parseRoot("a: &a [[[x]]]\nb: [[*a]]\n")
        #expect(root["b"]?.sequence?.first?.sequence?.first == root["a"])
    }
}
