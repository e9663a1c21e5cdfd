import FlinkResources

/// One request to the API, independent of the HTTP server that received it.
public struct APIRequest: Sendable {
    public var method: String
    /// The path without the query: `/apis/flink.apache.org/v1beta1/flinkdeployments`.
    public var path: String
    /// Query parameters (the first value of each).
    public var query: [String: String]
    /// Header fields by lowercased name.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
    }

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// The answer: a status, header fields, and a body given whole or streamed (a watch).
public struct APIResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Chunks written as they come, each made when the writer asks for it (so a slow
        /// client holds back the producer); the response ends when the stream does. `onEnd`
        /// is called once the server stops writing, ended or cut off (a client that went away).
        case stream(AsyncStream<[UInt8]>, onEnd: @Sendable () -> Void)
    }

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Body

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func json(_ value: JSONValue, status: Int = 200, contentType: String = "application/json") -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(JSONText.bytes(value)))
    }

    static func jsonBytes(_ bytes: [UInt8], status: Int = 200) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(bytes))
    }
}

/// A failed request as the Kubernetes API reports it: a `v1` `Status`.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSONValue?

    var response: APIResponse {
        var status: [String: JSONValue] = [
            "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]),
            "status": .string("Failure"), "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if let details { status["details"] = details }
        return .json(.object(status), status: code)
    }

    static func notFound(_ kind: ResourceKind?, _ name: String, resource: String? = nil) -> APIError {
        let plural = resource ?? kind.map { "\($0.plural).\(FlinkAPI.group)" } ?? "resource"
        return APIError(code: 404, reason: "NotFound", message: "\(plural) \"\(name)\" not found",
                        details: details(name: name, kind: kind))
    }

    static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }
    static func conflict(_ kind: ResourceKind, _ name: String, _ message: String) -> APIError {
        APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(kind.plural).\(FlinkAPI.group) \"\(name)\": \(message)",
                 details: details(name: name, kind: kind))
    }
    static func methodNotAllowed(_ message: String) -> APIError { APIError(code: 405, reason: "MethodNotAllowed", message: message) }
    static func internalError(_ message: String) -> APIError { APIError(code: 500, reason: "InternalError", message: message) }

    static func details(name: String, kind: ResourceKind?) -> JSONValue {
        var details: [String: JSONValue] = ["name": .string(name)]
        if let kind {
            details["group"] = .string(FlinkAPI.group)
            details["kind"] = .string(kind.plural)
        }
        return .object(details)
    }
}
