import ArgumentParser
import FlinkResources
import Foundation

/// `flinklet wait KIND/NAME --for=...`: blocks until resources reach a state, for scripts and
/// pipelines (`apply` then `wait`). See `WaitCondition` for what counts.
struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until resources reach a condition, a JSONPath value, or are deleted.",
        discussion: """
            Examples: --for=condition=Ready, --for=condition=Running=false, --for=delete, \
            --for=jsonpath='{.status.lifecycleState}'=STABLE. A status counts only once the \
            operator has observed the spec the manifest directory defines now, so waiting right \
            after apply never passes on the previous version. Exit status: 0 met, 1 timed out or \
            not found.
            """
    )

    @Argument(help: "KIND/NAME (several allowed), or KIND NAME...")
    var resources: [String] = []
    @Option(name: .customLong("for"), help: ArgumentHelp("delete, condition=TYPE[=true|false], or jsonpath='{PATH}'=VALUE.", valueName: "condition"))
    var condition: String
    @Option(help: ArgumentHelp("How long to wait: 30s, 5m, 1h; 0 checks once.", valueName: "duration"))
    var timeout = "30s"
    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The namespace (default: default).")
    var namespace: String = ObjectMeta.defaultNamespace
    @OptionGroup var manifestOptions: ManifestOptions
    @OptionGroup var state: StateOptions

    func validate() throws {
        _ = try WaitCondition(parsing: condition)
        guard parseDuration(timeout) != nil else { throw ValidationError("invalid --timeout \"\(timeout)\": use a duration such as 30s, 5m or 1h") }
        _ = try resourceIDs(resources, namespace: namespace)
    }

    func run() throws {
        let condition = try WaitCondition(parsing: condition)
        let ids = try resourceIDs(resources, namespace: namespace)
        let deadline = Date().addingTimeInterval(parseDuration(timeout) ?? 30)
        let observer = WaitObserver(state: state, manifests: manifestOptions.directory)
        var stderr = StandardError()
        for id in ids {
            if case .delete = condition {} else {
                let subject = try observer.observe(id)
                if subject.record == nil, subject.manifest == .absent || subject.manifest == .unknown {
                    print("Error from server (NotFound): \(id.kind.plural).\(FlinkAPI.group) \"\(id.name)\" not found", to: &stderr)
                    throw ExitCode.failure
                }
            }
            guard try waitUntil(condition, for: id, observer: observer, deadline: deadline) else {
                print("error: \(timedOutMessage(id))", to: &stderr)
                throw ExitCode.failure
            }
            print("\(id.kind.singular)/\(id.name) condition met")
            fflush(nil)
        }
    }
}

/// Resources named as kubectl names them on `wait` and `delete`: `KIND/NAME...` or
/// `KIND NAME...`, in `namespace`.
func resourceIDs(_ arguments: [String], namespace: String) throws -> [ResourceID] {
    guard let first = arguments.first else { throw ValidationError("resource(s) must be specified: KIND/NAME or KIND NAME") }
    if first.contains("/") {
        return try arguments.map { argument in
            guard let slash = argument.firstIndex(of: "/") else {
                throw ValidationError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form")
            }
            let name = String(argument[argument.index(after: slash)...])
            guard !name.isEmpty else { throw ValidationError("a resource name is required in \"\(argument)\"") }
            return ResourceID(kind: try ResourceSelector.kind(String(argument[..<slash])), namespace: namespace, name: name)
        }
    }
    let kind = try ResourceSelector.kind(first)
    guard arguments.count > 1 else { throw ValidationError("a resource name is required: \(first) NAME") }
    return arguments.dropFirst().map { ResourceID(kind: kind, namespace: namespace, name: $0) }
}
