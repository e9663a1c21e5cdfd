import FlinkResources
import Foundation
@testable import KubeAPI
import Testing

/// Server-side apply's field ownership, as Kubernetes' structured-merge-diff decides it.
struct ManagedFieldsTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func object(_ text: String) -> JSONValue { JSONText.parse(text)! }

    static func owners(_ fields: ManagedFields) -> [String: Set<String>] {
        Dictionary(fields.entries.map { ("\($0.manager)/\($0.operation.rawValue)", Set($0.fields.map(ManagedFields.printed))) },
                   uniquingKeysWith: { a, b in a.union(b) })
    }

    @Test func anApplyConflictsWithAnotherManagersDifferentValueSharesAnEqualOneAndForceTakesIt() throws {
        let live = Self.object(#"{"metadata":{"name":"a","labels":{"team":"x"}},"spec":{"job":{"parallelism":2,"args":["a"]}}}"#)
        var fields = ManagedFields.owned(by: "kubectl-client-side-apply", live, now: Self.now)
        let config = Self.object(#"{"metadata":{"name":"a","labels":{"team":"x"}},"spec":{"job":{"parallelism":3}}}"#)
        var attempt = fields
        #expect(throws: ManagedFields.Conflicts.self) { try attempt.apply(config, to: live, manager: "ci", force: false, now: Self.now) }
        do {
            _ = try attempt.apply(config, to: live, manager: "ci", force: false, now: Self.now)
        } catch {
            #expect(error.conflicts == [ManagedFields.Conflict(manager: "kubectl-client-side-apply", operation: .update, path: ["spec", "job", "parallelism"])],
                    "the label has the same value: shared, not a conflict")
            #expect(error.apiError.message == #"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using flink.apache.org/v1beta1: .spec.job.parallelism"#)
            #expect(error.apiError.code == 409)
        }
        #expect(attempt == fields, "a refused apply changes nothing")

        let result = try fields.apply(config, to: live, manager: "ci", force: true, now: Self.now)
        #expect(result["spec"]?["job"]?["parallelism"] == .int(3))
        #expect(result["spec"]?["job"]?["args"] == .array([.string("a")]), "fields the configuration leaves out are kept")
        #expect(Self.owners(fields) == [
            "kubectl-client-side-apply/Update": [".metadata.labels.team", ".spec.job.args"],
            "ci/Apply": [".metadata.labels.team", ".spec.job.parallelism"],
        ])
    }

    @Test func aFieldLeftOutOfTheNextApplyIsRemovedUnlessAnotherManagerOwnsIt() throws {
        var fields = ManagedFields()
        var live = try fields.apply(Self.object(#"{"spec":{"flinkConfiguration":{"a":"1","b":"2"},"job":{"args":["x"]}}}"#),
                                    to: .object([:]), manager: "ci", force: false, now: Self.now)
        // Another manager takes "b" by an update (no conflict for updates).
        let updated = ManagedFields.removing(["spec", "job"], from: Patch.merge(live, Self.object(#"{"spec":{"flinkConfiguration":{"b":"3"}}}"#)))
        fields.update(from: live, to: updated, manager: "kubectl-edit", now: Self.now)
        live = updated
        #expect(Self.owners(fields) == ["ci/Apply": [".spec.flinkConfiguration.a"], "kubectl-edit/Update": [".spec.flinkConfiguration.b"]],
                "the removed list is nobody's")
        live = try fields.apply(Self.object(#"{"spec":{"flinkVersion":"v2_3"}}"#), to: live, manager: "ci", force: false, now: Self.now)
        #expect(live == Self.object(#"{"spec":{"flinkConfiguration":{"b":"3"},"flinkVersion":"v2_3"}}"#))
    }

    @Test func managedFieldsReadBackAsWrittenInTheFieldsV1Form() throws {
        var fields = ManagedFields.owned(by: "before-first-apply", Self.object(#"{"metadata":{"annotations":{"a.b/c":"x"}},"spec":{"x":{},"y":[1]}}"#),
                                         now: Self.now)
        fields.entries.append(.init(manager: "m", operation: .apply, time: Self.now, fields: [["spec", "x"], ["spec", "x", "z"]]))
        let json = fields.json
        guard case .array(let entries) = json, entries.count == 2 else { Issue.record("two entries: \(json)"); return }
        #expect(entries[0]["fieldsV1"] == Self.object(#"{"f:metadata":{"f:annotations":{"f:a.b/c":{}}},"f:spec":{"f:x":{},"f:y":{}}}"#))
        #expect(entries[1]["fieldsV1"] == Self.object(#"{"f:spec":{"f:x":{".":{},"f:z":{}}}}"#))
        #expect(ManagedFields(json: json) == fields)
        #expect(ManagedFields(json: Self.object(#"[{"manager":"m","operation":"Delete"}]"#)) == nil)
    }

    @Test func aManifestEditedOutsideTheAPIIsAnUpdateByTheManifestFileAndOneWrittenByHandIsBeforeFirstApply() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-owners-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "web")
        let written = Self.object(#"{"spec":{"job":{"parallelism":2}}}"#)
        let owners = FieldOwnership(directory: directory)
        #expect(Self.owners(owners.current(id, uid: "u1", document: written, now: Self.now)) == ["before-first-apply/Update": [".spec.job.parallelism"]])

        var fields = ManagedFields()
        _ = try fields.apply(written, to: .object([:]), manager: "kubectl", force: false, now: Self.now)
        try owners.save(id, uid: "u1", document: written, fields: fields)
        let reopened = FieldOwnership(directory: directory)
        #expect(reopened.current(id, uid: "u1", document: written, now: Self.now) == fields, "kept across operator restarts")
        let edited = Self.object(#"{"spec":{"job":{"parallelism":4}}}"#)
        #expect(Self.owners(reopened.current(id, uid: "u1", document: edited, now: Self.now)) == ["manifest-file/Update": [".spec.job.parallelism"]])
        #expect(Self.owners(reopened.current(id, uid: "u2", document: written, now: Self.now)) == ["before-first-apply/Update": [".spec.job.parallelism"]],
                "another uid: created again by hand")
    }
}
