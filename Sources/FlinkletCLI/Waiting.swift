import ArgumentParser
import FlinkResources
import Foundation
import Manifests
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `wait` and `delete --wait` wait for, and the rule that makes waiting after `apply` safe.
///
/// Contract (the generation rule): a status counts only when it describes the spec the manifest
/// directory defines now. Right after `apply` the operator may not have read the new file yet,
/// so the Store still holds the previous spec, generation and (Ready) conditions; those must not
/// satisfy the wait. A condition or JSONPath therefore counts only when
/// - the Store's `specHash` equals the hash of the resource as its manifest defines it now
///   (when the manifest directory or the record's file can be read; a manifest that is invalid
///   never counts), and
/// - its `observedGeneration` (the condition's own, else `status.observedGeneration`) is at
///   least the record's `metadata.generation`.
/// `--for=delete` is met when the Store has no record and no manifest defines the resource.
enum WaitCondition: CustomStringConvertible {
    /// `condition=Ready`, `condition=Running=false`: a condition's status (type compared
    /// case-insensitively, as kubectl does).
    case condition(type: String, status: Condition.Status)
    case delete
    /// `jsonpath='{.status.lifecycleState}'=STABLE`; no expected value: the path has a value.
    case jsonPath(JSONPath, expression: String, expected: String?)

    init(parsing text: String) throws(ValidationError) {
        if text == "delete" {
            self = .delete
        } else if text.hasPrefix("condition=") {
            let parts = text.dropFirst("condition=".count).split(separator: "=", maxSplits: 1).map(String.init)
            guard let type = parts.first, !type.isEmpty else { throw ValidationError("--for=condition= needs a condition type, e.g. condition=Ready") }
            var status = Condition.Status.true
            if parts.count == 2 {
                guard let value = Condition.Status.allCases.first(where: { $0.rawValue.lowercased() == parts[1].lowercased() }) else {
                    throw ValidationError("--for=condition=\(type)=\(parts[1]): the status must be true, false or unknown")
                }
                status = value
            }
            self = .condition(type: type, status: status)
        } else if text.hasPrefix("jsonpath=") {
            var rest = String(text.dropFirst("jsonpath=".count))
            var expression: String
            var expected: String?
            // The expression may arrive still quoted (`'{.a}'=b` not through a shell).
            if let quote = rest.first, quote == "'" || quote == "\"", let close = rest.dropFirst().firstIndex(of: quote) {
                rest = String(rest[rest.index(after: rest.startIndex)..<close]) + String(rest[rest.index(after: close)...])
            }
            if rest.hasPrefix("{") {
                guard let close = rest.firstIndex(of: "}") else { throw ValidationError("--for=jsonpath: unclosed { in \"\(rest)\"") }
                expression = String(rest[...close])
                rest = String(rest[rest.index(after: close)...])
                if rest.hasPrefix("=") { expected = String(rest.dropFirst()) } else if !rest.isEmpty {
                    throw ValidationError("--for=jsonpath: expected =VALUE after \(expression), found \"\(rest)\"")
                }
            } else if let equals = rest.firstIndex(of: "=") {
                expression = String(rest[..<equals])
                expected = String(rest[rest.index(after: equals)...])
            } else {
                expression = rest
            }
            if expected.map({ $0.count >= 2 && ($0.hasPrefix("'") && $0.hasSuffix("'") || $0.hasPrefix("\"") && $0.hasSuffix("\"")) }) == true {
                expected = String(expected!.dropFirst().dropLast())
            }
            let path: JSONPath
            do { path = try JSONPath(expression) } catch { throw ValidationError("--for=jsonpath: \(error)") }
            guard path.values(in: .null) != nil else { throw ValidationError("--for=jsonpath takes a single path, e.g. '{.status.lifecycleState}'=STABLE") }
            self = .jsonPath(path, expression: expression, expected: expected)
        } else {
            throw ValidationError("unrecognized condition: \"\(text)\"; use delete, condition=TYPE[=true|false] or jsonpath='{PATH}'=VALUE")
        }
    }

    var description: String {
        switch self {
        case .condition(let type, let status): "condition=\(type)=\(status.rawValue.lowercased())"
        case .delete: "delete"
        case .jsonPath(_, let expression, let expected): "jsonpath=\(expression)" + (expected.map { "=\($0)" } ?? "")
        }
    }

    enum Verdict: Equatable {
        case met
        /// Not yet, and why (for the progress line).
        case waiting(String)
    }

    func check(_ subject: WaitSubject) -> Verdict {
        if case .delete = self {
            if subject.record != nil { return .waiting("the operator has not torn it down yet") }
            switch subject.manifest {
            case .valid, .invalid: return .waiting("a manifest still defines it")
            case .absent, .unknown: return .met
            }
        }
        guard let record = subject.record else { return .waiting("not yet recorded by the operator") }
        switch subject.manifest {
        case .valid(let hash) where hash != record.specHash: return .waiting("the operator has not read the manifest's current spec yet")
        case .invalid: return .waiting("the manifest is invalid; the operator keeps the last valid spec")
        default: break
        }
        let status = StatusSummary(record)
        switch self {
        case .delete:
            return .met  // handled above
        case .condition(let type, let wanted):
            guard let condition = status.conditions.first(where: { $0.type.lowercased() == type.lowercased() }) else {
                return .waiting("no \(type) condition yet")
            }
            guard let observed = condition.observedGeneration ?? status.observedGeneration, observed >= record.generation else {
                return .waiting("\(condition.type) describes an older generation than \(record.generation)")
            }
            return condition.status == wanted ? .met : .waiting("\(condition.type) is \(condition.status.rawValue)")
        case .jsonPath(let path, let expression, let expected):
            guard let observed = status.observedGeneration, observed >= record.generation else {
                return .waiting("generation \(record.generation) not yet observed")
            }
            guard let object = try? Get.object(record), let values = path.values(in: object), !values.isEmpty else {
                return .waiting("\(expression) has no value yet")
            }
            guard let expected else { return .met }
            let found = values.map(JSONPath.text).joined(separator: " ")
            return found == expected ? .met : .waiting("\(expression) is \(found)")
        }
    }
}

/// One resource as `wait` sees it at one moment.
struct WaitSubject {
    /// What the manifests say of the resource now.
    enum Manifest: Equatable {
        /// Defined and valid, with this spec hash.
        case valid(specHash: String)
        /// Defined, but its current text is invalid.
        case invalid
        /// The manifest directory does not define it.
        case absent
        /// Neither the manifest directory nor the record's file can be read: only the
        /// generation rule applies.
        case unknown
    }

    var id: ResourceID
    var record: ResourceRecord?
    var manifest: Manifest
}

/// Reads the Store (read-only, opened when it appears) and the manifests, for `wait`.
final class WaitObserver {
    let stateDirectory: StateOptions
    let manifests: ManifestDirectory
    private var store: Store?

    init(state: StateOptions, manifests: ManifestDirectory) {
        self.stateDirectory = state
        self.manifests = manifests
    }

    func openedStore() throws -> Store? {
        if store == nil { store = try openStore(stateDirectory) }
        return store
    }

    func observe(_ id: ResourceID) throws -> WaitSubject {
        let record = try openedStore()?.resourceOrOperatorSnapshot(id.key)
        let manifest: WaitSubject.Manifest
        if manifests.exists {
            manifest = Self.state(of: manifests.read().definition(of: id)?.object)
        } else if let file = record?.file, FileManager.default.fileExists(atPath: file) {
            manifest = Self.state(of: ManifestReader.read(path: file).objects.first { $0.id == id })
        } else {
            manifest = .unknown
        }
        return WaitSubject(id: id, record: record, manifest: manifest)
    }

    private static func state(of object: ManifestObject?) -> WaitSubject.Manifest {
        guard let object else { return .absent }
        return object.resource.map { .valid(specHash: $0.specHash) } ?? .invalid
    }

    /// `STABLE, Ready=True (generation 3, observed 2); last event: Normal Submit: Submitted job`.
    func summary(_ subject: WaitSubject) -> String {
        guard let record = subject.record else { return "not recorded yet" }
        let status = StatusSummary(record)
        var parts = [status.lifecycle ?? "no lifecycle state"]
        parts += status.conditions.map { "\($0.type)=\($0.status.rawValue)" }
        var text = parts.joined(separator: ", ") + " (generation \(record.generation), observed \(status.observedGeneration.map(String.init) ?? "none"))"
        if let event = try? store?.events(for: record.key).max(by: { $0.lastTimestamp < $1.lastTimestamp }) {
            text += "; last event: \(event.type.rawValue) \(event.reason): \(event.message)"
        }
        return text
    }
}

/// Polls until `condition` holds for `id` or `deadline` passes; returns whether it held.
/// On a terminal (standard error), shows one line of progress, rewritten in place.
func waitUntil(_ condition: WaitCondition, for id: ResourceID, observer: WaitObserver, deadline: Date,
               interval: TimeInterval = 0.2) throws -> Bool {
    let progress = isatty(STDERR_FILENO) == 1
    defer { if progress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
    while true {
        let subject = try observer.observe(id)
        switch condition.check(subject) {
        case .met:
            return true
        case .waiting(let reason):
            if progress {
                let line = "waiting for \(id.kind.singular)/\(id.name) (\(condition)): \(reason); \(observer.summary(subject))"
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line.prefix(terminalWidth() - 1))".utf8))
            }
        }
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { return false }
        Thread.sleep(forTimeInterval: min(interval, left))
    }
}

private func terminalWidth() -> Int {
    var size = winsize()
    guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10 else { return 120 }
    return Int(size.ws_col)
}

/// Durations as kubectl takes them (Go's syntax): `30s`, `5m`, `1h30m`, `500ms`, `1.5s`; a bare
/// number is seconds. Negative means a week, as in `kubectl wait`.
func parseDuration(_ text: String) -> TimeInterval? {
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    var negative = false
    if rest.hasPrefix("-") {
        negative = true
        rest = rest.dropFirst()
    }
    if let seconds = Double(rest) { return negative ? 7 * 86400 : seconds }
    let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
    var total = 0.0
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
        let number = rest.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(number) else { return nil }
        rest = rest.dropFirst(number.count)
        // "ms" is tried before "m" (the table's order).
        guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
        total += value * unit.1
        rest = rest.dropFirst(unit.0.count)
    }
    return negative ? 7 * 86400 : total
}

/// kubectl's timeout message: `timed out waiting for the condition on flinkdeployments/x`.
func timedOutMessage(_ id: ResourceID) -> String {
    "timed out waiting for the condition on \(id.kind.plural)/\(id.name)"
}
