import Testing
import YAML

@Suite("Scalars: core schema resolution")
struct ScalarResolutionTests {
    /// The value of `v` in `v: <written>`.
    func resolve(_ written: String) throws -> ResolvedScalar {
        let root = try parseRoot("v: \(written)\n")
        return try #require(root["v"]?.resolved)
    }

    @Test(arguments: [
        // null
        ("~", ResolvedScalar.null),
        ("null", .null),
        ("Null", .null),
        ("NULL", .null),
        ("", .null),
        ("!!null ''", .null),
        // booleans, including the YAML 1.1 words Kubernetes tooling reads
        ("true", .bool(true)), ("True", .bool(true)), ("TRUE", .bool(true)),
        ("false", .bool(false)), ("False", .bool(false)), ("FALSE", .bool(false)),
        ("yes", .bool(true)), ("Yes", .bool(true)), ("YES", .bool(true)),
        ("no", .bool(false)), ("No", .bool(false)), ("NO", .bool(false)),
        ("on", .bool(true)), ("On", .bool(true)), ("ON", .bool(true)),
        ("off", .bool(false)), ("Off", .bool(false)), ("OFF", .bool(false)),
        ("!!bool \"yes\"", .bool(true)),
        // integers
        ("0", .int(0)),
        ("42", .int(42)),
        ("-5", .int(-5)),
        ("+7", .int(7)),
        ("007", .int(7)),
        ("0x1F", .int(31)),
        ("0xff", .int(255)),
        ("-0x10", .int(-16)),
        ("0o17", .int(15)),
        ("9223372036854775807", .int(Int64.max)),
        ("-9223372036854775808", .int(Int64.min)),
        ("9223372036854775808", .int(nil)),
        ("99999999999999999999", .int(nil)),
        ("-99999999999999999999", .int(nil)),
        ("0x10000000000000000", .int(nil)),
        ("!!int \"42\"", .int(42)),
        ("!!int '0x1F'", .int(31)),
        // floats
        ("1.5", .float(1.5)),
        ("-2.25", .float(-2.25)),
        ("1e9", .float(1e9)),
        ("1E-3", .float(0.001)),
        ("+6.5e+2", .float(650)),
        (".5", .float(0.5)),
        ("5.", .float(5)),
        (".inf", .float(.infinity)),
        ("+.Inf", .float(.infinity)),
        ("-.INF", .float(-.infinity)),
        ("!!float 1", .float(1)),
        // strings
        ("\"true\"", .string("true")),
        ("'false'", .string("false")),
        ("\"8081\"", .string("8081")),
        ("'~'", .string("~")),
        ("\"\"", .string("")),
        ("\"null\"", .string("null")),
        ("!!str 123", .string("123")),
        ("!!str true", .string("true")),
        ("!!str", .string("")),
        ("! 42", .string("42")),
        ("|\n  42", .string("42\n")),
        (">-\n  true", .string("true")),
        ("hello", .string("hello")),
        ("1.2.3", .string("1.2.3")),
        ("0x", .string("0x")),
        ("0xG1", .string("0xG1")),
        ("0o8", .string("0o8")),
        ("0b101", .string("0b101")),
        ("1_000", .string("1_000")),
        ("1e", .string("1e")),
        ("e5", .string("e5")),
        ("NaN", .string("NaN")),
        ("inf", .string("inf")),
        ("y", .string("y")),
        ("n", .string("n")),
        ("yes please", .string("yes please")),
        ("1024m", .string("1024m")),
        ("10s", .string("10s")),
        ("v2_3", .string("v2_3")),
        ("2024-01-01", .string("2024-01-01")),
        ("!!int abc", .string("abc")),
        ("!!bool maybe", .string("maybe")),
        ("!custom 5", .string("5")),
    ])
    func resolution(written: String, expected: ResolvedScalar) throws {
        #expect(try resolve(written) == expected)
    }

    @Test(arguments: [".nan", ".NaN", ".NAN", "!!float .nan"])
    func notANumber(written: String) throws {
        guard case .float(let value) = try resolve(written) else {
            Issue.record("\(written) is not a float")
            return
        }
        #expect(value.isNaN)
    }

    @Test func tagsAreNormalisedToTheLongForm() throws {
        let root = try parseRoot("a: !!str 1\nb: !!int '2'\nc: ! 3\nd: !custom 4\ne: !<tag:yaml.org,2002:float> 5\n")
        #expect(root["a"]?.scalar?.tag == Tag.str)
        #expect(root["b"]?.scalar?.tag == Tag.int)
        #expect(root["c"]?.scalar?.tag == Tag.str, "the non-specific tag ! makes a string")
        #expect(root["d"]?.scalar?.tag == "!custom")
        #expect(root["e"]?.resolved == .float(5))
    }

    @Test(arguments: [
        ("v: 1", "integer"), ("v: 1.5", "number"), ("v: true", "boolean"), ("v: ~", "null"),
        ("v: x", "string"), ("v: \"1\"", "string"), ("v: [1]", "array"), ("v: {a: 1}", "object"),
    ])
    func kindDescriptions(text: String, kind: String) throws {
        #expect(try parseRoot(text)["v"]?.kindDescription == kind)
    }

    @Test func scalarEqualityComparesResolvedValues() {
        #expect(Scalar("a") == Scalar("a", style: .doubleQuoted))
        #expect(Scalar("1") != Scalar("1", style: .doubleQuoted))
        #expect(Scalar("0x1F") == Scalar("31"))
        #expect(Scalar("1", tag: Tag.str) != Scalar("1", style: .doubleQuoted), "tags must match")
        #expect(Scalar(".nan") == Scalar(".NaN"))
        #expect(Set([Scalar(".nan"), Scalar(".NaN"), Scalar("~"), Scalar("null")]).count == 2)
    }

    @Test func nodeEqualityIgnoresMarks() {
        let a = Node(.scalar(Scalar("x")), mark: mark(1, 1))
        let b = Node(.scalar(Scalar("x")), mark: mark(9, 9))
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
    }
}
