import YAML

/// Any JSON-shaped value: kept for fields Flinklet passes through or only partly reads, such as
/// Kubernetes pod templates.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        if let node = (decoder as? NodeDecoding)?.node {
            self = JSONValue(node)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Converts a YAML node by its resolved scalar types. Integers too large for 64 bits become
    /// strings; mapping keys are their scalar text.
    public init(_ node: Node) {
        switch node.content {
        case .scalar(let scalar):
            switch ResolvedScalar(scalar) {
            case .null: self = .null
            case .bool(let b): self = .bool(b)
            case .int(let i?): self = .int(i)
            case .int(nil): self = .string(scalar.text)
            case .float(let d): self = .double(d)
            case .string(let s): self = .string(s)
            }
        case .sequence(let items):
            self = .array(items.map(JSONValue.init))
        case .mapping(let pairs):
            var object: [String: JSONValue] = [:]
            for pair in pairs { object[pair.key.scalar?.text ?? pair.key.description] = JSONValue(pair.value) }
            self = .object(object)
        }
    }

    /// A YAML node for this value, with object keys sorted (as `kubectl get -o yaml` prints them).
    public var node: Node {
        switch self {
        case .null: return .scalar("null")
        case .bool(let b): return .scalar(b ? "true" : "false")
        case .int(let i): return .scalar(String(i))
        case .double(let d):
            if d.isNaN { return .scalar(".nan") }
            if d.isInfinite { return .scalar(d > 0 ? ".inf" : "-.inf") }
            return .scalar(String(d))
        case .string(let s): return .string(s)
        case .array(let items): return .sequence(items.map(\.node))
        case .object(let object):
            return .mapping(object.keys.sorted().map { ($0, object[$0]!.node) })
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension JSONValue {
    /// The container name whose settings a Flink pod template applies to (upstream's convention).
    public static let flinkMainContainer = "flink-main-container"

    /// The environment a pod template gives the Flink main container, in order.
    public var mainContainerEnvironment: [(name: String, value: String)] {
        guard case .array(let containers)? = self["spec"]?["containers"] else { return [] }
        for container in containers {
            guard case .string(JSONValue.flinkMainContainer)? = container["name"], case .array(let env)? = container["env"] else { continue }
            return env.compactMap { variable in
                guard case .string(let name)? = variable["name"] else { return nil }
                switch variable["value"] {
                case .string(let s)?: return (name, s)
                case .int(let i)?: return (name, String(i))
                case .bool(let b)?: return (name, String(b))
                case .double(let d)?: return (name, String(d))
                default: return (name, "")
                }
            }
        }
        return []
    }
}
