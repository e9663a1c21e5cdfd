import FlinkResources
import Foundation
import Reconciliation

/// `FlinkStateSnapshot`: upstream's snapshot controller (`StateSnapshotReconciler`,
/// `StateSnapshotObserver`), level-based.
///
/// - TRIGGER_PENDING: a savepoint that `alreadyExists` is COMPLETED at once (when its
///   `_metadata` is there); otherwise, once the referenced job runs, a trigger id is recorded
///   (IN_PROGRESS, write-ahead) and the request sent. A job that is not found or not RUNNING
///   ABANDONS the snapshot, as upstream does.
/// - IN_PROGRESS: Flink's answer for the trigger decides: COMPLETED with its path, or a failed
///   attempt. A request that never reached Flink (it does not know the trigger) is sent again.
/// - A failed attempt counts in `failures`; with `backoffLimit` (-1: no limit) not exceeded it
///   is retried after 10 s × 2^(failures−1) (upstream's backoff), else the snapshot stays FAILED.
/// - Deleting the resource deletes a completed savepoint's files when `disposeOnDelete`
///   (default true); an attempt in progress is waited for first.
extension FlinkPlanner {
    /// How long a snapshot may stay IN_PROGRESS before the attempt counts as failed.
    public static let snapshotTimeoutMillis: Int64 = 600_000

    /// Upstream's retry delay after `failures` failed attempts: 10 s × 2^(failures−1).
    public static func snapshotBackoff(failures: Int) -> Duration {
        .seconds(10 * (1 << min(max(failures - 1, 0), 12)))
    }

    func planSnapshot(_ input: PlanInput) -> Plan {
        guard input.isDefined else { return deleteSnapshot(input) }
        guard let resource = input.resource, case .snapshot(let snapshot) = resource else { return PlanParts.neverValid(input) }
        var steps: [Step] = PlanParts.validationEvents(input)
        guard let observation = input.flink, let seen = observation.snapshot else {
            return stalled(input, steps: steps, reason: "NotObserved", message: "the Flink side of the resource was not observed")
        }
        let spec = snapshot.spec
        let name = snapshot.metadata.name
        var status = seen.recorded ?? FlinkStateSnapshotStatus()
        let nowText = RFC3339.string(from: input.now)
        let nowMillis = Int64(input.now.timeIntervalSince1970 * 1000)
        let what = spec.isSavepoint ? "Savepoint" : "Checkpoint"
        let errorReason = spec.isSavepoint ? "SavepointError" : "CheckpointError"
        let limit = spec.effectiveBackoffLimit
        var next: ReconcileAction = .awaitChange
        var writeAhead = false
        var waitingFor: String?
        let reference = spec.jobReference
        let referenceText = "\((reference?.kind ?? .flinkDeployment).resourceKind.qualifiedName) \"\(reference?.name ?? "")\""

        func exhausted() -> Bool { limit >= 0 && (status.failures ?? 0) > limit }
        /// A failed attempt: retried after the backoff unless the limit is reached.
        func fail(_ cause: String) {
            status.failures = (status.failures ?? 0) + 1
            status.error = cause
            status.triggerId = nil
            status.resultTimestamp = nowText
            if exhausted() {
                status.state = .failed
                steps.append(.event(type: .warning, reason: errorReason,
                                    message: "\(what) \(name) failed and is not retried (failures \(status.failures ?? 0) > backoffLimit \(limit)): \(cause)"))
            } else {
                status.state = .triggerPending
                let delay = Self.snapshotBackoff(failures: status.failures ?? 1)
                steps.append(.event(type: .warning, reason: errorReason,
                                    message: "\(what) \(name) failed and is retried in \(delay.components.seconds) s: \(cause)"))
                next = .requeue(after: delay)
            }
        }
        func abandon(_ message: String) {
            status.state = .abandoned
            status.path = nil
            status.error = message
            status.triggerId = nil
            status.resultTimestamp = nowText
            steps.append(.event(type: .warning, reason: "SnapshotAbandoned", message: message))
        }
        func complete(_ location: String) {
            status.state = .completed
            status.path = location
            status.error = nil
            status.triggerId = nil
            status.resultTimestamp = nowText
            steps.append(.event(type: .normal, reason: "\(what)Created", message: "\(what) \(name) of \(referenceText) completed at \(location)"))
        }
        /// The job this snapshot is of, or why there is none to take (the snapshot is then abandoned).
        func runningJob() -> ReferencedJob? {
            guard let job = seen.job else {
                abandon("spec.jobReference: \(referenceText) not found: nothing to take the \(what.lowercased()) \(name) of")
                return nil
            }
            guard job.state == .running, job.jobId != nil else {
                abandon("spec.jobReference: the job of \(referenceText) is not running (\(job.state?.rawValue ?? "not deployed")): \(what.lowercased()) \(name) is abandoned")
                return nil
            }
            return job
        }
        func request(_ job: ReferencedJob, jobId: String, rest: RESTEndpoint, triggerId: String) -> Step {
            .flink(.triggerStateSnapshot(rest: rest, jobId: jobId, checkpoint: !spec.isSavepoint,
                                         directory: spec.savepoint?.path ?? job.savepointDirectory,
                                         formatType: spec.savepoint?.effectiveFormatType ?? .canonical, triggerId: triggerId,
                                         lastAttempt: limit >= 0 && (status.failures ?? 0) + 1 > limit))
        }

        if status.state == nil { status.state = .triggerPending }

        switch status.state {
        case .triggerPending?:
            if let savepoint = spec.savepoint, savepoint.effectiveAlreadyExists, let path = savepoint.path {
                if seen.pathExists == false {
                    if let remaining = backoffOver(status, now: input.now) {
                        next = .requeue(after: remaining)
                    } else {
                        fail("spec.savepoint.path: no savepoint at \(path): \(Self.metadataPath(path)) does not exist")
                    }
                } else {
                    status.triggerTimestamp = nowText
                    complete(path)
                }
            } else if let remaining = backoffOver(status, now: input.now) {
                next = .requeue(after: remaining)
                waitingFor = "retrying after failure \(status.failures ?? 0)"
            } else if let job = runningJob(), let jobId = job.jobId {
                if let rest = job.rest {
                    let trigger = SnapshotTrigger.make(jobId: jobId, type: .manual, now: nowMillis, salt: "\(input.uid)#\(status.failures ?? 0)")
                    status.state = .inProgress
                    status.triggerId = trigger.id
                    status.triggerTimestamp = nowText
                    steps.append(request(job, jobId: jobId, rest: rest, triggerId: trigger.id))
                    steps.append(.event(type: .normal, reason: "SnapshotTriggered",
                                        message: "\(what) \(name) of job \(jobId) (\(referenceText)) triggered: \(trigger.id)"))
                    writeAhead = true
                    next = .requeue(after: .milliseconds(500))
                } else {
                    // Never decided on what could not be seen: wait for the REST API.
                    waitingFor = "waiting for the REST API of \(referenceText) to answer"
                    next = .requeue(after: .seconds(2))
                }
            }
        case .inProgress?:
            if case .completed(let location)? = seen.operation {
                complete(location)
            } else if let job = runningJob(), let jobId = job.jobId {
                switch seen.operation {
                case .completed?:
                    break  // handled above
                case .failed(let cause)?:
                    fail(cause)
                case .notFound?:
                    // On record, but the request never reached Flink: send it (the same operation).
                    if let rest = job.rest, let triggerId = status.triggerId {
                        steps.append(request(job, jobId: jobId, rest: rest, triggerId: triggerId))
                    }
                    next = .requeue(after: .milliseconds(500))
                case .inProgress?, .unknown?, nil:
                    let started = status.triggerTimestamp.flatMap(RFC3339.date(from:)).map { Int64($0.timeIntervalSince1970 * 1000) } ?? nowMillis
                    if nowMillis - started > Self.snapshotTimeoutMillis {
                        fail("\(what.lowercased()) \(status.triggerId ?? "") of job \(jobId) did not complete within \(Self.snapshotTimeoutMillis / 60_000) minutes")
                    } else {
                        next = .requeue(after: .milliseconds(500))
                    }
                }
            }
        case .completed?, .abandoned?, .failed?, nil:
            break
        }

        let state = status.state ?? .triggerPending
        var conditions = [Condition(type: Conditions.ready, status: state == .completed ? .true : .false, reason: Self.reason(state),
                                    message: status.path.map { "\(what.lowercased()) at \($0)" } ?? status.error ?? "\(what.lowercased()) \(state.rawValue)",
                                    observedGeneration: input.generation)]
        switch state {
        case .failed, .abandoned:
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: Self.reason(state), message: status.error ?? state.rawValue,
                                        observedGeneration: input.generation))
        case .triggerPending, .inProgress:
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: Self.reason(state),
                                        message: waitingFor ?? status.error.map { "retrying: \($0)" } ?? "\(what.lowercased()) \(state.rawValue)",
                                        observedGeneration: input.generation))
        case .completed:
            break
        }
        var domain = FlinkStatus(writeAhead: writeAhead)
        domain.snapshot = status
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: conditions, now: input.now),
                    error: PlanParts.errorText(input) ?? status.error, observedGeneration: input.generation, domainStatus: domain, next: next)
    }

    /// What remains of the backoff after the last failed attempt, or nil when it is over (or
    /// there was none).
    func backoffOver(_ status: FlinkStateSnapshotStatus, now: Date) -> Duration? {
        guard let failures = status.failures, failures > 0,
              let last = [status.resultTimestamp, status.triggerTimestamp].compactMap({ $0.flatMap(RFC3339.date(from:)) }).max() else { return nil }
        let backoff = Self.snapshotBackoff(failures: failures)
        let remaining = Double(backoff.components.seconds) - now.timeIntervalSince(last)
        return remaining > 0 ? .milliseconds(Int64(remaining * 1000)) : nil
    }

    /// `TriggerPending`, `InProgress`, ... (CamelCase, as condition reasons are).
    static func reason(_ state: FlinkStateSnapshotStatus.State) -> String {
        state.rawValue.split(separator: "_").map { $0.prefix(1) + $0.dropFirst().lowercased() }.joined()
    }

    static func metadataPath(_ location: String) -> String {
        var path = location
        while path.hasSuffix("/") && path.count > 1 { path.removeLast() }
        return path + "/_metadata"
    }

    /// A deleted snapshot: a completed savepoint's files go with it when `disposeOnDelete`
    /// (upstream's cleanup); one in progress is waited for while its job runs.
    func deleteSnapshot(_ input: PlanInput) -> Plan {
        guard case .snapshot(let snapshot)? = input.flink?.lastKnown, let seen = input.flink?.snapshot else {
            return Plan(steps: [.forget], next: .awaitChange)
        }
        let spec = snapshot.spec
        guard let savepoint = spec.savepoint, savepoint.effectiveDisposeOnDelete, spec.jobReference?.name != nil else {
            return Plan(steps: [.forget], next: .awaitChange)
        }
        switch seen.recorded?.state {
        case .inProgress?:
            let undecided: Bool = switch seen.operation {
            case .inProgress?, .unknown?: true
            default: false
            }
            // Still under way (or Flink cannot say) while its job runs: what it writes is
            // disposed of once it completes, never left behind.
            if seen.job?.state == .running, undecided {
                let message = "waiting for savepoint \(snapshot.metadata.name) in progress before it is disposed of"
                return Plan(steps: [], conditions: Conditions.merge(previous: input.conditions, next: [
                    Condition(type: Conditions.ready, status: .false, reason: "Deleting", message: message, observedGeneration: input.generation),
                    Condition(type: Conditions.reconciling, status: .true, reason: "Deleting", message: message, observedGeneration: input.generation),
                ], now: input.now), next: .requeue(after: .seconds(1)))
            }
            if case .completed(let location)? = seen.operation {
                return Plan(steps: [.flink(.disposeStateSnapshot(path: location)), .forget], next: .awaitChange)
            }
            return Plan(steps: [.forget], next: .awaitChange)
        case .completed?:
            guard let path = seen.recorded?.path, seen.pathExists != false else { return Plan(steps: [.forget], next: .awaitChange) }
            return Plan(steps: [.flink(.disposeStateSnapshot(path: path)), .forget], next: .awaitChange)
        default:
            return Plan(steps: [.forget], next: .awaitChange)
        }
    }
}
