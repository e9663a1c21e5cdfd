import Testing
import FlinkResources
import Manifests

let snapshotBase = """
    apiVersion: flink.apache.org/v1beta1
    kind: FlinkStateSnapshot
    metadata:
      name: snap
    spec:
      jobReference:
        kind: FlinkDeployment
        name: app
      savepoint:
        disposeOnDelete: true
    """

let snapshotErrors: [(problem: String, edits: [Edit], expected: String)] = [
    ("neither savepoint nor checkpoint", [.delete(10), .delete(9)],
     "case.yaml:5:1: spec: Required value: exactly one of spec.savepoint and spec.checkpoint"),
    ("both savepoint and checkpoint", [.insert(after: 10, "  checkpoint: {}")],
     "case.yaml:11:3: spec.checkpoint: Forbidden: spec.savepoint and spec.checkpoint are mutually exclusive: a snapshot is one or the other"),
    ("no job reference", [.delete(8), .delete(7), .delete(6)],
     "case.yaml:5:1: spec.jobReference: Required value: the FlinkDeployment or FlinkSessionJob whose job is snapshotted, e.g. {kind: FlinkDeployment, name: my-app}"),
    ("misspelt reference kind", [.replace(7, "    kind: FlinkDeploymnt")],
     #"case.yaml:7:11: spec.jobReference.kind: Unsupported value: "FlinkDeploymnt": supported values: "FlinkDeployment", "FlinkSessionJob""#),
    ("reference without a name", [.delete(8)],
     "case.yaml:6:3: spec.jobReference.name: Required value: the name of the FlinkDeployment or FlinkSessionJob"),
    ("relative target directory", [.insert(after: 10, "    path: savepoints/here")],
     #"case.yaml:11:11: spec.savepoint.path: Invalid value: "savepoints/here": the savepoint's target directory must be an absolute path or a file:// URI; relative paths depend on the process's working directory"#),
    ("alreadyExists without a path", [.insert(after: 10, "    alreadyExists: true")],
     "case.yaml:9:3: spec.savepoint.path: Required value: the location of the savepoint that already exists"),
    ("backoffLimit below -1", [.insert(after: 10, "  backoffLimit: -2")],
     "case.yaml:11:17: spec.backoffLimit: Invalid value: -2: must be greater than or equal to -1"),
    ("an unknown field", [.insert(after: 10, "    formatTyp: NATIVE")],
     #"case.yaml:11:5: spec.savepoint.formatTyp: Unknown field: "formatTyp" is not a field here; did you mean "formatType"?"#),
]

@Suite struct SnapshotRuleTests {
    @Test func theBaseSnapshotAndUpstreamsFormsAreValid() {
        for text in [snapshotBase,
                     edited(snapshotBase, [.replace(9, "  checkpoint: {}"), .delete(10)]),
                     // An existing savepoint needs no job; Flink's own `file:/` spelling is a local path.
                     edited(snapshotBase, [.delete(8), .delete(7), .delete(6), .insert(after: 10, "    alreadyExists: true\n    path: file:/tmp/sp/savepoint-0a1b2c-1234")]),
                     edited(snapshotBase, [.insert(after: 10, "    formatType: NATIVE\n  backoffLimit: 3")])] {
            let file = check(text)
            #expect(file.diagnostics.map(\.description) == [], "\(text)")
            #expect(file.objects.allSatisfy { $0.isValid })
        }
    }

    @Test("each FlinkStateSnapshot rule has a failing example", arguments: snapshotErrors)
    func snapshotRule(problem: String, edits: [Edit], expected: String) {
        let file = check(edited(snapshotBase, edits))
        #expect(file.diagnostics.map(\.description) == [expected], "\(problem)")
        #expect(file.objects.allSatisfy { !$0.isValid }, "\(problem)")
    }

    @Test func aJobsInitialSavepointPathMayBeASnapshotsPath() {
        // status.path of a snapshot, as Flink names it: `file:/…`.
        let file = check(edited(deploymentBase, [.insert(after: 15, "    initialSavepointPath: file:/state/clusters/default/app/savepoints/savepoint-0a1b2c-1234")]))
        #expect(file.diagnostics.map(\.description) == [])
    }
}
