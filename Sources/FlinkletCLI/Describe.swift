import ArgumentParser
import Controller
import Engine
import FlinkResources
import Foundation
import Runtime
import Store

/// `flinklet describe KIND NAME`: one resource in detail, ending with its events.
struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one resource in detail, with its pods and events.")

    @Argument(help: "KIND/NAME or KIND NAME.")
    var kindOrName: String
    @Argument(help: ArgumentHelp("The resource name.", visibility: .hidden))
    var name: String?
    @OptionGroup var state: StateOptions
    @OptionGroup var namespaces: NamespaceOptions

    func run() throws {
        let selector = try ResourceSelector(kindOrName, name)
        let store = try openStore(state)
        // `describe KIND` without a name describes every resource of that kind, as kubectl does.
        let records = try store?.resourcesWithOperatorSnapshots().filter { selector.matches($0, namespace: namespaces.filter) } ?? []
        guard let store, !records.isEmpty else {
            var stderr = StandardError()
            let kind = selector.kind.map { "\($0.plural).\(FlinkAPI.group)" } ?? "resources"
            if let name = selector.name {
                print("Error from server (NotFound): \(kind) \"\(name)\" not found", to: &stderr)
                throw ExitCode.failure
            }
            print("No resources found in \(namespaces.namespace) namespace.", to: &stderr)
            return
        }
        let stateDirectory = URL(fileURLWithPath: state.stateDirectory).standardizedFileURL.path
        print(records.map { Self.describe($0, store: store, stateDirectory: stateDirectory) }.joined(separator: "\n\n\n"))
    }

    /// `stateDirectory`: where the client certificate a cluster with TLS requires is (shown
    /// with its REST URL).
    static func describe(_ record: ResourceRecord, store: Store, now: Date = Date(), stateDirectory: String? = nil) -> String {
        let status = StatusSummary(record)
        let time = ISO8601DateFormatter()
        var lines: [String] = []
        func field(_ name: String, _ value: String) { lines.append((name + ":").padding(toLength: 20, withPad: " ", startingAt: 0) + value) }
        field("Name", record.name)
        field("Namespace", record.namespace)
        field("Kind", "\(record.kind.rawValue) (\(FlinkAPI.apiVersion))")
        field("UID", record.uid)
        field("Manifest", record.file ?? "<none>")
        field("Created", time.string(from: record.createdAt))
        field("Generation", "\(record.generation)" + (status.observedGeneration.map { " (observed \($0))" } ?? " (not yet observed)"))
        if record.kind == .flinkStateSnapshot {
            let spec = try? JSONDecoder().decode(FlinkStateSnapshotSpec.self, from: Data(record.spec.utf8))
            let snapshot = (try? record.snapshotStatus()) ?? nil
            let trigger = OperatorSnapshots.triggerType(of: record)
            if trigger != nil { field("Created By", "the operator (savepoint history of its job; not a manifest)") }
            field("Type", (spec?.isSavepoint ?? true ? "SAVEPOINT" : "CHECKPOINT") + " (trigger type \((trigger ?? .manual).rawValue))")
            field("Job Reference", spec?.jobReference.map { "\(($0.kind ?? .flinkDeployment).rawValue)/\($0.name ?? "")" } ?? "<none>")
            if let savepoint = spec?.savepoint {
                field("Savepoint", "path \(savepoint.path ?? "<default>"), format \(savepoint.effectiveFormatType.rawValue), "
                      + "alreadyExists \(savepoint.effectiveAlreadyExists), disposeOnDelete \(savepoint.effectiveDisposeOnDelete)")
            }
            field("Backoff Limit", String(spec?.effectiveBackoffLimit ?? -1))
            field("State", snapshot?.state?.rawValue ?? "<none>")
            field("Path", snapshot?.path ?? "<none>")
            field("Trigger ID", snapshot?.triggerId ?? "<none>")
            field("Triggered", snapshot?.triggerTimestamp ?? "<none>")
            field("Result", snapshot?.resultTimestamp ?? "<none>")
            field("Failures", String(snapshot?.failures ?? 0))
        } else {
            field("Lifecycle State", status.lifecycle ?? "<none>")
        }
        if let job = status.jobState { field("Job Status", job) }
        if let deployment = try? record.deploymentStatus() {
            if let info = deployment.clusterInfo {
                if let mode = info["mode"] { field("Mode", mode) }
                if let version = info["flink-version"] { field("Flink Version", version) }
                if let image = info["image"] { field("Image", "\(image) (recorded; runs the local Flink distribution)") }
                if let url = info["rest-url"] {
                    field("REST URL", url)
                    // Mutual TLS: the REST API and web UI answer only the state directory's certificate.
                    if url.hasPrefix("https:"), let stateDirectory {
                        let tls = stateDirectory + "/tls"
                        field("REST Access", "curl --cert \(tls)/flinklet.crt --key \(tls)/flinklet.key --cacert \(tls)/flinklet.crt \(url)/overview")
                        field("Web UI", "\(url) in a browser that has imported \(tls)/flinklet.p12 (password: \(tls)/password)")
                    }
                }
                if let port = info["jobmanager-metrics-port"] {
                    let taskManagers = info["taskmanager-metrics-ports"].map { ", TaskManagers \($0)" } ?? ""
                    field("Metrics Ports", "JobManager \(port)\(taskManagers) (Prometheus, /metrics)")
                }
                if let jar = info["jar"] { field("Jar", jar) }
            }
            if let jm = deployment.jobManagerDeploymentStatus { field("JobManager", jm.rawValue) }
        }
        let job = (try? record.deploymentStatus())??.jobStatus ?? (try? record.sessionJobStatus())??.jobStatus
        if let id = job?.jobId { field("Job ID", id) }
        field("Error", status.error ?? "<none>")

        /// A titled table, or `<none>` when it has no rows.
        func section(_ title: String, _ header: [String], _ rows: [[String]]) {
            lines.append(title + ":")
            lines.append(rows.isEmpty ? "  <none>" : indent(table(header, rows)))
        }
        section("Conditions", ["Type", "Status", "Reason", "Age", "Message"], status.conditions.map { c in
            let since = c.lastTransitionTime.flatMap { time.date(from: $0) }.map { HumanDuration.since($0, now: now) } ?? ""
            return [c.type, c.status.rawValue, c.reason ?? "", since, c.message ?? ""]
        })
        section("Pods", ["Name", "Role", "Process", "PID", "Age"], ((try? store.pods(owner: record.key)) ?? []).map { pod in
            let alive = ProcessInfoReader.stat(pid: pod.pid).map { $0.startTicks == pod.processStartTicks } ?? false
            let role = (try? JSONDecoder().decode(PodRecord.self, from: pod.spec))?.spec.labels[PodLabels.role] ?? ""
            return [String(pod.name.split(separator: "/").last ?? ""), role, alive ? "Running" : "Gone", String(pod.pid), HumanDuration.since(pod.startedAt, now: now)]
        })
        section("Events", ["Type", "Reason", "Age", "From", "Message"], ((try? store.events(for: record.key)) ?? []).map { eventRow($0, now: now) })
        return lines.joined(separator: "\n")
    }

    /// kubectl's event age: `5m`, or `2m (x3 over 10m)` for a repeated event.
    static func eventRow(_ event: EventRecord, now: Date) -> [String] {
        let seen = event.count > 1
            ? "\(HumanDuration.since(event.lastTimestamp, now: now)) (x\(event.count) over \(HumanDuration.since(event.firstTimestamp, now: now)))"
            : HumanDuration.since(event.lastTimestamp, now: now)
        return [event.type.rawValue, event.reason, seen, event.source, event.message]
    }

    static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }
}

/// `flinklet events [KIND/NAME]`: recent events, oldest first.
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List events, oldest first.")

    @Argument(help: "Only events of this resource: KIND/NAME or KIND NAME.")
    var kindOrName: String?
    @Argument(help: ArgumentHelp("The resource name.", visibility: .hidden))
    var name: String?
    @OptionGroup var state: StateOptions
    @OptionGroup var namespaces: NamespaceOptions

    func run() throws {
        let selector = try ResourceSelector(kindOrName, name)
        let events = (try openStore(state)?.events(for: nil) ?? []).filter { event in
            guard let id = ResourceID(key: event.key) else { return false }
            return (selector.kind == nil || id.kind == selector.kind) && (selector.name == nil || id.name == selector.name)
                && (namespaces.filter == nil || id.namespace == namespaces.filter)
        }
        guard !events.isEmpty else {
            var stderr = StandardError()
            print(namespaces.allNamespaces ? "No events found." : "No events found in \(namespaces.namespace) namespace.", to: &stderr)
            return
        }
        let now = Date()
        let rows = events.map { event -> [String] in
            let id = ResourceID(key: event.key)!
            var row = [HumanDuration.since(event.lastTimestamp, now: now), event.type.rawValue, event.reason,
                       "\(id.kind.singular)/\(id.name)", event.count > 1 ? "\(event.message) (x\(event.count))" : event.message]
            if namespaces.allNamespaces { row.insert(id.namespace, at: 0) }
            return row
        }
        let header = (namespaces.allNamespaces ? ["NAMESPACE"] : []) + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        print(table(header, rows))
    }
}
