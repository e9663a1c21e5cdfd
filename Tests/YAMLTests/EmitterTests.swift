import FlinkletTesting
import Testing
import YAML

@Suite("Emitter: round trips")
struct EmitterTests {
    /// Emits the documents and parses the text again.
    func roundTrip(_ documents: [Node]) throws -> [Node?] {
        try parseYAML(try emitYAML(documents)).map(\.root)
    }

    static let manifest = """
        # A realistic manifest: comments, block scalars, quoted numbers, booleans, unicode.
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: word-count          # trailing comment
          namespace: default
          labels: {}
          annotations:
            description: "Zählt Wörter — 単語を数える 😀"
            owner: 'team: data'
        spec:
          flinkVersion: v2_3
          mode: application
          image: ""
          flinkConfiguration:
            rest.port: "8081"
            taskmanager.numberOfTaskSlots: "2"
            execution.checkpointing.interval: 10s
            state.backend.incremental: true
            pipeline.object-reuse: "false"
            metrics.reporters: []
          logConfiguration:
            log4j-console.properties: |
              rootLogger.level = INFO
              rootLogger.appenderRef.console.ref = ConsoleAppender

              # a comment inside the block stays text
              logger.akka.level = WARN
          podTemplate:
            spec:
              containers:
                - name: flink-main-container
                  env:
                    - name: GREETING
                      value: >
                        folded text
                        on two lines
                    - name: EMPTY
                      value: ""
                    - name: NOTHING
                      value: ~
          jobManager:
            resource: {memory: 1024m, cpu: 0.5}
          taskManager:
            replicas: 2
            resource:
              memory: 2g
              cpu: 1
          job:
            jarURI: local:///opt/flink/examples/WordCount.jar
            parallelism: 4
            args: ["--input", "/tmp/in.txt", "--output", '/tmp/out.txt', "10"]
            upgradeMode: savepoint
            allowNonRestoredState: false
        ---
        # a second document
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkSessionJob
        metadata:
          name: session-job
        spec:
          deploymentName: word-count
          job:
            jarURI: https://example.com/job.jar
            args:
              - |-
                multi
                line
              - '0x1F'
              - 0x1F
              - !!str 123
        """

    @Test func manifestRoundTripsToAnEqualTree() throws {
        let original = try parseYAML(Self.manifest)
        #expect(original.count == 2)
        let roots = original.compactMap(\.root)
        let text = try emitYAML(roots)
        let reparsed = try parseYAML(text)
        #expect(reparsed.map(\.root) == original.map(\.root), "emitted:\n\(text)")
        #expect(text.hasPrefix("---"), "several documents are separated explicitly:\n\(text)")

        // Spot checks that types survived, not just equality.
        let spec = try #require(reparsed.first?.root?["spec"])
        #expect(spec["flinkConfiguration"]?["rest.port"]?.resolved == .string("8081"))
        #expect(spec["flinkConfiguration"]?["state.backend.incremental"]?.resolved == .bool(true))
        #expect(spec["flinkConfiguration"]?["pipeline.object-reuse"]?.resolved == .string("false"))
        #expect(spec["flinkConfiguration"]?["metrics.reporters"]?.sequence?.isEmpty == true)
        #expect(reparsed.first?.root?["metadata"]?["labels"]?.mapping?.isEmpty == true)
        #expect(spec["image"]?.resolved == .string(""))
        #expect(spec["job"]?["parallelism"]?.resolved == .int(4))
        #expect(spec["job"]?["args"]?.sequence?.last?.resolved == .string("10"))
        let log = spec["logConfiguration"]?["log4j-console.properties"]?.scalar
        #expect(log?.style == .literal)
        #expect(log?.text.contains("\n\n# a comment inside the block stays text\n") == true)
        #expect(reparsed.first?.root?["metadata"]?["annotations"]?["description"]?.resolved == .string("Zählt Wörter — 単語を数える 😀"))
        let args = try #require(reparsed.last?.root?["spec"]?["job"]?["args"]?.sequence)
        #expect(args.map(\.resolved) == [.string("multi\nline"), .string("0x1F"), .int(31), .string("123")])
        #expect(args[3].scalar?.tag == Tag.str)
    }

    @Test func roundTripIsStable() throws {
        // Emitting what was read back gives the same text: the emitter is deterministic.
        let roots = try parseYAML(Self.manifest).compactMap(\.root)
        let once = try emitYAML(roots)
        let twice = try emitYAML(try parseYAML(once).compactMap(\.root))
        #expect(once == twice)
    }

    @Test func unicodeIsWrittenAsIs() throws {
        let text = try emitYAML([.mapping([("greeting", .string("grüß dich — 単語"))])])
        #expect(text == "greeting: grüß dich — 単語\n")
    }

    @Test func charactersBeyondTheBasicPlaneRoundTrip() throws {
        // libyaml writes them as \U escapes in double quotes; what matters is that they read back.
        let node = Node.mapping([("emoji", .string("grüß dich 😀"))])
        #expect(try roundTrip([node]) == [node])
    }

    @Test(arguments: ["a\r\nb", "a\rb", "x\r", "a\u{85}b", "a\u{2028}b", "a\u{2029}b", "a\u{FEFF}b", "bell\u{7}", "nul\u{0}"])
    func lineBreaksAndControlCharactersRoundTrip(text: String) throws {
        let node = Node.string(text)
        let emitted = try emitYAML([.mapping([("v", node)])])
        let value = try #require(try parseYAML(emitted).first?.root?["v"])
        #expect(value.resolved == .string(text), "emitted: \(emitted.debugDescription)")
    }

    @Test func singleDocumentHasNoMarkerUnlessAsked() throws {
        let node = Node.mapping([("a", .scalar("1"))])
        #expect(try emitYAML([node]) == "a: 1\n")
        #expect(try emitYAML([node], explicitDocumentStart: true) == "---\na: 1\n")
        #expect(try emitYAML([]) == "")
    }

    @Test func emptyCollectionsAreWrittenInFlowStyle() throws {
        let text = try emitYAML([.mapping([("map", .mapping([])), ("list", .sequence([]))])])
        #expect(text == "map: {}\nlist: []\n")
        #expect(try roundTrip([.mapping([("map", .mapping([])), ("list", .sequence([]))])]) ==
            [.mapping([("map", .mapping([])), ("list", .sequence([]))])])
    }

    @Test func nestedStructuresRoundTrip() throws {
        let tree = Node.mapping([
            ("list", .sequence([.mapping([("a", .scalar("1")), ("b", .sequence([.scalar("x")]))]), .sequence([.sequence([])])])),
            ("map", .mapping([("deep", .mapping([("deeper", .string("value"))]))])),
        ])
        #expect(try roundTrip([tree]) == [tree])
    }

    @Test func nonScalarKeysRoundTrip() throws {
        let root = try parseRoot("? [a, b]\n: 1\n? {k: v}\n: 2\n")
        #expect(try roundTrip([root]) == [root])
    }

    @Test func quotedNumbersStayQuoted() throws {
        #expect(try emitYAML([.mapping([("port", .string("8081")), ("n", .scalar("8081"))])]) == "port: \"8081\"\nn: 8081\n")
    }

    /// Text that would read back as something else, or break the syntax, if written plainly.
    @Test(arguments: [
        "true", "false", "yes", "No", "on", "OFF", "null", "~", "Null", "",
        "8081", "-5", "0x1F", "0o17", "1e9", "1.5", ".inf", "-.inf", ".nan", "99999999999999999999",
        "a: b", "key:", "- item", "[x]", "{x}", "x, y", "# not a comment", "a #b", "&anchor", "*alias",
        "!tag", "%directive", "@at", "`tick", "|", ">", "?", "'single'", "\"double\"", "---", "...",
        " leading space", "trailing space ", "  ", "tab\there",
        "line1\nline2", "line1\nline2\n", "trailing newlines\n\n", "\nleading newline", "  indented\nblock",
        "ünïcödé", "😀", "日本語: テキスト", "plain words", "local:///opt/flink/job.jar", "10s", "1024m",
        "back\\slash", "quote\"inside", "apostrophe's",
    ])
    func stringNodesRoundTripAsStrings(text: String) throws {
        let node = Node.string(text)
        let emitted = try emitYAML([.mapping([("v", node)])])
        let value = try #require(try parseYAML(emitted).first?.root?["v"], "emitted:\n\(emitted)")
        #expect(value.resolved == .string(text), "emitted:\n\(emitted)")
        #expect(value == node)

        // Also as a document root and as a sequence item.
        let rootEmitted = try emitYAML([node])
        #expect(try parseYAML(rootEmitted).first?.root?.resolved == .string(text), "emitted:\n\(rootEmitted)")
        let items = try roundTrip([.sequence([node, node])])
        #expect(items.first??.sequence?.map(\.resolved) == [.string(text), .string(text)])
    }

    @Test func stringNodeChoosesTheSimplestStyle() {
        #expect(Node.string("true").scalar?.style == .doubleQuoted)
        #expect(Node.string("8081").scalar?.style == .doubleQuoted)
        #expect(Node.string("").scalar?.style == .doubleQuoted)
        #expect(Node.string("a: b").scalar?.style == .plain)
        #expect(Node.string("hello").scalar?.style == .plain)
        #expect(Node.string("line1\nline2").scalar?.style == .literal)
    }

    @Test func stringNodeEmission() throws {
        #expect(try emitYAML([.mapping([("v", .string("true"))])]) == "v: \"true\"\n")
        #expect(try emitYAML([.mapping([("v", .string(""))])]) == "v: \"\"\n")
        #expect(try emitYAML([.mapping([("v", .string("line1\nline2"))])]) == "v: |-\n  line1\n  line2\n")
    }

    @Test func explicitTagsRoundTrip() throws {
        let root = try parseRoot("a: !!str 123\nb: !!int \"42\"\nc: !custom x\n")
        let again = try roundTrip([root])
        #expect(again == [root])
        #expect(again.first??["a"]?.resolved == .string("123"))
        #expect(again.first??["b"]?.resolved == .int(42))
        #expect(again.first??["c"]?.scalar?.tag == "!custom")
    }

    @Test(arguments: 0..<3)
    func randomTreesRoundTrip(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let alphabet = Array("ab :-#[]{},&*!|>'\"%@`?~\\09.xyzü😀\t")
        func text() -> String {
            String((0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        }
        func tree(depth: Int) -> Node {
            switch depth > 3 ? 0 : Int.random(in: 0...3, using: &random) {
            case 0: return Node.string(text())
            case 1: return Node.scalar(["1", "true", "~", "x", "1.5", "0x10"].randomElement(using: &random)!)
            case 2: return .sequence((0..<Int.random(in: 0...3, using: &random)).map { _ in tree(depth: depth + 1) })
            default:
                var pairs: [(String, Node)] = []
                var used: Set<String> = []
                for _ in 0..<Int.random(in: 0...3, using: &random) {
                    let key = "k" + text()
                    if used.insert(key).inserted { pairs.append((key, tree(depth: depth + 1))) }
                }
                return .mapping(pairs)
            }
        }
        for _ in 0..<100 {
            let documents = (0..<Int.random(in: 1...3, using: &random)).map { _ in tree(depth: 0) }
            let emitted = try emitYAML(documents)
            let reparsed = try parseYAML(emitted).map(\.root)
            #expect(reparsed == documents.map(Optional.some), "emitted:\n\(emitted)")
        }
    }
}

@Suite("Emitter: regressions")
struct EmitterRegressionTests {
    /// A document whose root is an empty plain scalar (a null written as nothing) is emitted as
    /// `~`, the same null, so it reads back instead of disappearing.
    @Test func emptyPlainRootDocumentRoundTrips() throws {
        let emitted = try emitYAML([.scalar("")])
        let documents = try parseYAML(emitted)
        #expect(documents.count == 1, "emitted: \(emitted.debugDescription)")
        #expect(documents.first?.root == .scalar(""))
    }
}
