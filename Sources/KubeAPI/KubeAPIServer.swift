import FlinkResources
import Foundation
import Logging
import Manifests
import Store
import Synchronization

/// The Kubernetes API for Flinklet's kinds, over the operator's Store and manifest directory,
/// so that kubectl and the official client libraries work against `flinklet run` unchanged.
///
/// Reads (get, list, watch, `/status`, server-side tables, namespaces, events) answer from a
/// cache that follows the Store's revision; writes (create, replace, patch, delete) are atomic
/// file writes into the manifest directory, exactly as `flinklet apply`/`delete` write, which
/// the operator then reads like any edit. The manifest directory stays the only source of
/// desired state.
///
/// Contract:
/// - Every request but `/healthz`, `/readyz`, `/livez` (served before this) needs
///   `Authorization: Bearer <token>`; without it: 401.
/// - Bad input is a `Status` naming the resource, as the API server words it; it never
///   disturbs another resource or the operator.
public final class KubeAPIServer: Sendable {
    let store: Store
    let source: DirectorySource
    let directory: ManifestDirectory
    let token: String
    let cache: ResourceCache
    /// Each resource's `managedFields`, beside the state database.
    let ownership: FieldOwnership
    /// Returns watch backlogs' freed memory to the system.
    let heapTrim = HeapTrim()
    let logger: Logger
    private let address = Mutex<String>("127.0.0.1")

    /// - Parameters:
    ///   - store: the operator's Store (read; its revision is the API's resourceVersion).
    ///   - source: the operator's view of the manifest directory (told of writes at once).
    ///   - manifests: the manifest directory, where writes go.
    ///   - token: the bearer token clients must present.
    public init(store: Store, source: DirectorySource, manifests: String, token: String, logger: Logger) {
        self.store = store
        self.source = source
        self.directory = ManifestDirectory(path: manifests)
        self.token = token
        let ownership = FieldOwnership(directory: (store.databasePath as NSString).deletingLastPathComponent + "/managed-fields")
        self.ownership = ownership
        self.cache = ResourceCache(store: store, logger: logger, managedFields: { ownership.served($0, uid: $1) })
        self.logger = logger
    }

    /// Keeps the API's cache in step with the Store (and trims the heap after watch
    /// backlogs) until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.heapTrim.run() }
            await cache.run()
            group.cancelAll()
        }
    }

    /// Where the server listens (`HOST:PORT`), for `/api`'s server address.
    public func setServerAddress(_ value: String) { address.withLock { $0 = value } }

    /// Open watches (for tests and measurements).
    public var watchCount: Int { get async { await cache.watcherCount } }

    public func handle(_ request: APIRequest) async -> APIResponse {
        guard authorized(request) else {
            return APIError(code: 401, reason: "Unauthorized", message: "Unauthorized").response
        }
        do {
            return try await route(request)
        } catch let error as APIError {
            return error.response
        } catch {
            logger.error("API request failed", metadata: ["http.path": "\(request.path)", "error": "\(error)"])
            return APIError.internalError("\(error)").response
        }
    }

    private func authorized(_ request: APIRequest) -> Bool {
        guard let header = request.header("authorization"), header.hasPrefix("Bearer ") else { return false }
        return APIAccess.constantTimeEqual(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), token)
    }

    // MARK: Routing

    private func route(_ request: APIRequest) async throws -> APIResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        let method = request.method
        let accept = request.header("accept") ?? ""
        func readOnly() throws {
            guard method == "GET" || method == "HEAD" else { throw APIError.methodNotAllowed("the server does not allow this method on the requested resource") }
        }
        switch parts {
        case ["version"]:
            try readOnly()
            return .json(Discovery.version())
        case ["api"]:
            try readOnly()
            if Discovery.wantsAggregated(accept) { return .json(Discovery.aggregated(core: true), contentType: Discovery.aggregatedContentType) }
            return .json(Discovery.apiVersions(server: address.withLock { $0 }))
        case ["apis"]:
            try readOnly()
            if Discovery.wantsAggregated(accept) { return .json(Discovery.aggregated(core: false), contentType: Discovery.aggregatedContentType) }
            return .json(Discovery.groupList())
        case ["api", "v1"]:
            try readOnly()
            return .json(Discovery.resourceList(groupVersion: "v1", resources: Discovery.coreResources))
        case ["apis", FlinkAPI.group]:
            try readOnly()
            return .json(Discovery.group())
        case ["apis", FlinkAPI.group, FlinkAPI.version]:
            try readOnly()
            return .json(Discovery.resourceList(groupVersion: FlinkAPI.apiVersion, resources: Discovery.flinkResources))
        case ["openapi", "v2"]:
            try readOnly()
            return .json(OpenAPI.v2())
        case ["openapi", "v3"]:
            try readOnly()
            return .json(OpenAPI.v3Index(hash: Self.openAPIHash))
        case ["openapi", "v3", "apis", FlinkAPI.group, FlinkAPI.version]:
            try readOnly()
            return .json(OpenAPI.v3Group())
        case ["openapi", "v3", "api", "v1"]:
            try readOnly()
            return .json(OpenAPI.v3Core())
        case ["api", "v1", "namespaces"]:
            try readOnly()
            return try await namespaces(request, name: nil)
        case let p where p.count == 4 && p[0] == "api" && p[1] == "v1" && p[2] == "namespaces":
            try readOnly()
            return try await namespaces(request, name: p[3])
        case ["api", "v1", "events"]:
            try readOnly()
            return try await events(request, namespace: nil, name: nil)
        case let p where p.count >= 5 && p.count <= 6 && p[0] == "api" && p[1] == "v1" && p[2] == "namespaces" && p[4] == "events":
            try readOnly()
            return try await events(request, namespace: p[3], name: p.count == 6 ? p[5] : nil)
        case let p where p.count >= 4 && p[0] == "apis" && p[1] == FlinkAPI.group && p[2] == FlinkAPI.version:
            return try await resources(request, Array(p.dropFirst(3)))
        case let p where p.first == "api" || p.first == "apis":
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        default:
            return APIResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array("404 page not found\n".utf8)))
        }
    }

    static let openAPIHash: String = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in JSONText.bytes(OpenAPI.v3Group()) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16).uppercased()
    }()

    /// `{plural}`, `namespaces/{ns}/{plural}`, `namespaces/{ns}/{plural}/{name}[/status]`.
    private func resources(_ request: APIRequest, _ parts: [String]) async throws -> APIResponse {
        func kind(_ plural: String) throws -> ResourceKind {
            guard let kind = ResourceKind.allCases.first(where: { $0.plural == plural }) else {
                throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            return kind
        }
        switch parts.count {
        case 1:
            let kind = try kind(parts[0])
            guard request.method == "GET" else { throw APIError.methodNotAllowed("the server does not allow this method on the requested resource") }
            return try await list(request, kind: kind, namespace: nil)
        case 3 where parts[0] == "namespaces":
            let kind = try kind(parts[2])
            switch request.method {
            case "GET": return try await list(request, kind: kind, namespace: parts[1])
            case "POST": return try await create(request, kind: kind, namespace: parts[1])
            case "DELETE": return try await deleteCollection(request, kind: kind, namespace: parts[1])
            default: throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
            }
        case 4 where parts[0] == "namespaces", 5 where parts[0] == "namespaces" && parts[4] == "status":
            let kind = try kind(parts[2])
            let id = ResourceID(kind: kind, namespace: parts[1], name: parts[3])
            if parts.count == 5, request.method != "GET" {
                throw APIError.methodNotAllowed("the status of \(kind.plural).\(FlinkAPI.group) \"\(id.name)\" is written by the operator only")
            }
            switch request.method {
            case "GET": return try await get(request, id: id)
            case "PUT": return try await replace(request, id: id)
            case "PATCH": return try await patch(request, id: id)
            case "DELETE": return try await delete(request, id: id)
            default: throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
            }
        default:
            throw APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
    }

    // MARK: Reads

    func filter(_ request: APIRequest, kind: ResourceKind, namespace: String?) throws -> ObjectFilter {
        var filter = ObjectFilter(kind: kind, namespace: namespace)
        if let text = request.query["labelSelector"], !text.isEmpty {
            do { filter.labels = try LabelSelector(text) } catch { throw APIError.badRequest("unable to parse requirement: \(error)") }
        }
        for (field, op, value) in try Self.fieldSelector(request.query["fieldSelector"]) {
            switch field {
            case "metadata.name": if op == "!=" { filter.names.notEqual = value } else { filter.names.equal = value }
            case "metadata.namespace": if op == "!=" { filter.namespaces.notEqual = value } else { filter.namespaces.equal = value }
            default: throw APIError.badRequest("field label not supported: \(field)")
            }
        }
        return filter
    }

    /// `a=b,c!=d` → (field, operator, value).
    static func fieldSelector(_ text: String?) throws -> [(String, String, String)] {
        guard let text, !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { part in
            for op in ["!=", "==", "="] {
                if let range = part.range(of: op) {
                    return (String(part[..<range.lowerBound]).trimmingCharacters(in: .whitespaces), op == "!=" ? "!=" : "=",
                            String(part[range.upperBound...]).trimmingCharacters(in: .whitespaces))
                }
            }
            throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(part)'")
        }
    }

    private func isWatch(_ request: APIRequest) -> Bool { ["true", "1", "t", "True", "TRUE", "T"].contains(request.query["watch"] ?? "") }

    private func list(_ request: APIRequest, kind: ResourceKind, namespace: String?) async throws -> APIResponse {
        let filter = try filter(request, kind: kind, namespace: namespace)
        let table = Tables.wantsTable(request.header("accept"))
        let include = Tables.Include(rawValue: request.query["includeObject"] ?? "") ?? .metadata
        if isWatch(request) { return try await watch(request, filter: filter, table: table, include: include) }
        await cache.catchUp()
        let (revision, all) = await cache.list(filter)
        var items = all[...]
        if let token = request.query["continue"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let start = String(data: data, encoding: .utf8) else {
                throw APIError.badRequest("continue key is not valid")
            }
            items = items.drop { "\($0.record.namespace)/\($0.record.name)" <= start }
        }
        var next: String?
        if let limit = Int(request.query["limit"] ?? ""), limit > 0, items.count > limit {
            items = items.prefix(limit)
            if let last = items.last { next = Data("\(last.record.namespace)/\(last.record.name)".utf8).base64EncodedString() }
        }
        if table {
            let now = Date()
            let rows = items.map { Tables.row($0, include: include, now: now) }
            return .json(Tables.table(columns: Tables.columns(for: kind), rows: rows, revision: revision, continueToken: next))
        }
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(revision))]
        if let next { metadata["continue"] = .string(next) }
        var out = Array("{\"apiVersion\":\"\(FlinkAPI.apiVersion)\",\"items\":[".utf8)
        out.reserveCapacity(items.reduce(256) { $0 + $1.json.count + 1 })
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += item.json
        }
        out += Array("],\"kind\":\"\(kind.rawValue)List\",\"metadata\":".utf8)
        JSONText.write(.object(metadata), into: &out)
        out.append(UInt8(ascii: "}"))
        return .jsonBytes(out)
    }

    private func get(_ request: APIRequest, id: ResourceID) async throws -> APIResponse {
        await cache.catchUp()
        guard let object = await cache.object(id) else { throw APIError.notFound(id.kind, id.name) }
        if Tables.wantsTable(request.header("accept")) {
            let include = Tables.Include(rawValue: request.query["includeObject"] ?? "") ?? .metadata
            return .json(Tables.table(columns: Tables.columns(for: id.kind), rows: [Tables.row(object, include: include, now: Date())],
                                      revision: object.record.revision))
        }
        // Lists and watches serve the managed fields the API last recorded; a get also counts
        // edits made to the manifest since.
        if ownership.has(id), let definition = await definition(of: id), let document = definition.document {
            let fields = ownership.current(id, uid: object.record.uid, document: document, now: Date())
            return .json(Self.withManagedFields(JSONText.parse(object.json) ?? .object([:]), fields))
        }
        return .jsonBytes(object.json)
    }

    // MARK: Watch

    private func watch(_ request: APIRequest, filter: ObjectFilter, table: Bool, include: Tables.Include) async throws -> APIResponse {
        var after: Int64?
        if let text = request.query["resourceVersion"], !text.isEmpty, text != "0" {
            guard let revision = Int64(text) else { throw APIError.badRequest("invalid resource version: \(text)") }
            after = revision
        }
        let timeout = Double(request.query["timeoutSeconds"] ?? "").map { min(max($0, 1), 3600) } ?? 1800
        let columns = Tables.columns(for: filter.kind)
        switch await cache.subscribe(filter, after: after) {
        case .gone(let oldest):
            let status: JSONValue = .object([
                "type": .string("ERROR"),
                "object": .object([
                    "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]), "status": .string("Failure"),
                    "message": .string("too old resource version: \(after ?? 0) (\(oldest))"), "reason": .string("Expired"), "code": .int(410),
                ]),
            ])
            let (out, continuation) = AsyncStream.makeStream(of: [UInt8].self)
            continuation.yield(JSONText.bytes(status) + [0x0A])
            continuation.finish()
            return APIResponse(status: 200, headers: [("Content-Type", "application/json")], body: .stream(out, onEnd: {}))
        case .events(let id, let backlog, let stream):
            let cache = self.cache
            let heapTrim = self.heapTrim
            let feed = WatchFeed(backlog: backlog, live: stream.makeAsyncIterator(), heapTrim: heapTrim) { event, first in
                var out = Array("{\"type\":\"\(event.type.rawValue)\",\"object\":".utf8)
                if table {
                    JSONText.write(Tables.table(columns: first ? columns : nil, rows: [Tables.row(event.object, include: include, now: Date())],
                                                revision: event.revision), into: &out)
                } else {
                    out += event.object.json
                }
                out += Array("}\n".utf8)
                return out
            }
            // The watch ends at its timeout: the cache finishes its stream, and the feed with it.
            let timer = Task {
                try? await Task.sleep(for: .seconds(timeout))
                await cache.unsubscribe(id)
            }
            let out = AsyncStream<[UInt8]>(unfolding: { await feed.next() })
            let large = backlog.count >= HeapTrim.threshold
            return APIResponse(status: 200, headers: [("Content-Type", "application/json")], body: .stream(out, onEnd: {
                timer.cancel()
                Task { await cache.unsubscribe(id) }
                // A connection cut off mid-backlog frees its buffers now.
                if large { heapTrim.request() }
            }))
        }
    }

}

/// The events of one watch, encoded one at a time as the client takes them: first the
/// backlog, then the live ones.
///
/// `@unchecked Sendable`: only the response's `AsyncStream(unfolding:)` calls `next()`, and it
/// calls it once at a time.
final class WatchFeed: @unchecked Sendable {
    private var backlog: [WatchEvent]
    private var index = 0
    private var live: AsyncStream<WatchEvent>.AsyncIterator
    private var first = true
    private let encode: @Sendable (WatchEvent, Bool) -> [UInt8]
    private let heapTrim: HeapTrim?

    init(backlog: [WatchEvent], live: AsyncStream<WatchEvent>.AsyncIterator, heapTrim: HeapTrim? = nil,
         encode: @escaping @Sendable (WatchEvent, Bool) -> [UInt8]) {
        self.backlog = backlog
        self.live = live
        self.heapTrim = heapTrim
        self.encode = encode
    }

    func next() async -> [UInt8]? {
        let event: WatchEvent
        if index < backlog.count {
            event = backlog[index]
            index += 1
            // Sent: the objects it held may go, and the memory encoding them took.
            if index == backlog.count {
                let sent = backlog.count
                (backlog, index) = ([], 0)
                heapTrim?.afterBacklog(events: sent)
            }
        } else if let next = await live.next() {
            event = next
        } else {
            return nil
        }
        defer { first = false }
        return encode(event, first)
    }
}

extension KubeAPIServer {
    // MARK: Namespaces and events

    private func namespaces(_ request: APIRequest, name: String?) async throws -> APIResponse {
        await cache.catchUp()
        var (revision, found) = await cache.namespaces()
        if !found.contains(where: { $0.name == ObjectMeta.defaultNamespace }) {
            found.insert((ObjectMeta.defaultNamespace, Date(timeIntervalSince1970: 0)), at: 0)
            found.sort { $0.name < $1.name }
        }
        let table = Tables.wantsTable(request.header("accept"))
        let now = Date()
        if let name {
            guard let namespace = found.first(where: { $0.name == name }) else { throw APIError.notFound(nil, name, resource: "namespaces") }
            let object = APIObjects.namespace(name, created: namespace.created)
            if table {
                return .json(Tables.table(columns: Tables.namespaceColumns, rows: [Tables.namespaceRow(object, created: namespace.created, now: now)],
                                          revision: revision))
            }
            return .json(object)
        }
        let objects = found.map { (APIObjects.namespace($0.name, created: $0.created), $0.created) }
        if table {
            return .json(Tables.table(columns: Tables.namespaceColumns, rows: objects.map { Tables.namespaceRow($0.0, created: $0.1, now: now) },
                                      revision: revision))
        }
        return .json(.object(["apiVersion": .string("v1"), "kind": .string("NamespaceList"),
                              "metadata": .object(["resourceVersion": .string(String(revision))]), "items": .array(objects.map(\.0))]))
    }

    private func events(_ request: APIRequest, namespace: String?, name: String?) async throws -> APIResponse {
        if isWatch(request) { throw APIError.methodNotAllowed("watching events is not supported by flinklet; list them again") }
        let selectors = try Self.fieldSelector(request.query["fieldSelector"])
        let supported: Set<String> = ["involvedObject.name", "involvedObject.namespace", "involvedObject.kind", "involvedObject.uid",
                                      "involvedObject.apiVersion", "reason", "type", "metadata.name", "metadata.namespace"]
        for (field, _, _) in selectors where !supported.contains(field) { throw APIError.badRequest("field label not supported: \(field)") }
        await cache.catchUp()
        let revision = await cache.revision
        var items: [JSONValue] = []
        for event in try store.events(for: nil) {
            let parts = event.key.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3, let kind = ResourceKind(rawValue: parts[0]) else { continue }
            let involved = ResourceID(kind: kind, namespace: parts[1], name: parts[2])
            if let namespace, involved.namespace != namespace { continue }
            let object = APIObjects.event(event, involved: involved, uid: await cache.uid(of: involved))
            if let name, object["metadata"]?["name"]?.stringValue != name { continue }
            let matches = selectors.allSatisfy { field, op, value in
                var current: JSONValue? = object
                for key in field.split(separator: ".") { current = current?[String(key)] }
                let actual = current?.stringValue ?? ""
                return op == "!=" ? actual != value : actual == value
            }
            if matches { items.append(object) }
        }
        if name != nil {
            guard let item = items.first else { throw APIError.notFound(nil, name ?? "", resource: "events") }
            return .json(item)
        }
        if Tables.wantsTable(request.header("accept")) {
            let now = Date()
            return .json(Tables.table(columns: Tables.eventColumns, rows: items.map { Tables.eventRow($0, now: now) }, revision: revision))
        }
        return .json(.object(["apiVersion": .string("v1"), "kind": .string("EventList"),
                              "metadata": .object(["resourceVersion": .string(String(revision))]), "items": .array(items)]))
    }
}
