import FlinkResources
import Foundation
import Logging
import Manifests
import Reconciliation
import Runtime
import Store

/// The domain half of a controller, which the engine cannot know: what to observe beyond pods,
/// how to carry out the domain's steps, how their outcomes change a status, and which ports and
/// admission slots it leases.
public protocol ReconcilerBackend: Sendable {
    associatedtype Observation: Sendable
    associatedtype Action: Sendable & Hashable
    associatedtype Status: DomainStatus
    associatedtype Outcome: Sendable

    /// Read only: never starts, stops or changes anything; throws when something it must read
    /// cannot be read (never guesses an empty answer).
    func observe(_ context: ObservationContext) async throws -> Observation?
    /// Carries out one step; a failure it can name is an event, one it cannot throws.
    func execute(_ action: Action, for id: ResourceID, logger: Logger) async throws -> ActionResult<Outcome>
    /// `status` once `outcome` is known (pure).
    func reduce(_ status: AnyResourceStatus, outcome: Outcome) -> AnyResourceStatus
    /// Leases loopback ports to `owner` until it holds `count`.
    func leasePorts(owner: String, count: Int, store: Store) throws
    /// The slots of `gate` (nil: a gate this backend does not bound).
    func gate(_ gate: AdmissionGate) -> ConcurrencyGate?
    /// Every gate this backend bounds (a forgotten resource gives back its slots in each).
    var gates: [AdmissionGate] { get }
}

/// What a backend observes from.
public struct ObservationContext: Sendable {
    public var id: ResourceID
    public var desired: DesiredObject?
    public var record: ResourceRecord?
    public var pods: [PodStatus]
    public var layout: PodLayout
    public var store: Store
    public var now: Date
    /// Whether a manifest defines a valid resource of that id (a neighbour, e.g. a session cluster).
    public var isDefined: @Sendable (ResourceID) async -> Bool
}

/// What a domain step did: events to record, an outcome for the status, and, when it failed,
/// the error that ends the reconcile once its events are recorded.
public struct ActionResult<Outcome: Sendable>: Sendable {
    public var events: [(type: EventKind, reason: String, message: String)]
    public var outcome: Outcome?
    public var error: (any Error)?

    public init(events: [(type: EventKind, reason: String, message: String)] = [], outcome: Outcome? = nil, error: (any Error)? = nil) {
        self.events = events
        self.outcome = outcome
        self.error = error
    }
}

/// The backend of planners with no domain side (the command engine).
public struct NoBackend: ReconcilerBackend {
    public typealias Observation = NoObservation
    public typealias Action = NoAction
    public typealias Status = NoStatus
    public typealias Outcome = NoOutcome
    public init() {}
    public func observe(_ context: ObservationContext) async throws -> NoObservation? { nil }
    public func execute(_ action: NoAction, for id: ResourceID, logger: Logger) async throws -> ActionResult<NoOutcome> { ActionResult() }
    public func reduce(_ status: AnyResourceStatus, outcome: NoOutcome) -> AnyResourceStatus { status }
    public func leasePorts(owner: String, count: Int, store: Store) throws {}
    public func gate(_ gate: AdmissionGate) -> ConcurrencyGate? { nil }
    public var gates: [AdmissionGate] { [] }
}

/// The outcome of a step of `NoBackend` (there are none).
public struct NoOutcome: Sendable, Hashable {}
