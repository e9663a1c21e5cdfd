import Synchronization
import Testing
import FlinkResources
@testable import Manifests

/// An in-memory directory: files with contents and a changing signature.
struct FakeDirectory {
    var files: [String: String] = [:]
    var versions: [String: Int64] = [:]
    var reads: [String] = []

    mutating func write(_ path: String, _ text: String) {
        files[path] = text
        versions[path, default: 0] += 1
    }

    mutating func touch(_ path: String) { versions[path, default: 0] += 1 }

    mutating func remove(_ path: String) {
        files[path] = nil
        versions[path] = nil
    }

    var scan: [(path: String, signature: DesiredState.FileSignature)] {
        files.keys.sorted().map { path in
            let v = versions[path]!
            return (path, DesiredState.FileSignature(device: 1, inode: UInt64(abs(path.hashValue) % 10_000), size: Int64(files[path]!.utf8.count), modified: v, changed: v))
        }
    }

    mutating func apply(to state: inout DesiredState, at now: ContinuousClock.Instant = .now) -> Set<String> {
        var reads: [String] = []
        let files = self.files
        let changed = state.apply(scan: scan, now: now) { path in
            reads.append(path)
            return ManifestReader.read(bytes: Array(files[path]!.utf8), path: path)
        }
        self.reads += reads
        return Set(changed.map(\.name))
    }
}

func deployment(_ name: String, parallelism: Int = 1, label: String? = nil) -> String {
    """
    apiVersion: flink.apache.org/v1beta1
    kind: FlinkDeployment
    metadata:
      name: \(name)
    \(label.map { "  labels: {team: \($0)}\n" } ?? "")spec:
      flinkVersion: v2_3
      mode: session
      taskManager:
        replicas: \(parallelism)
    """
}

@Suite struct DesiredStateTests {
    @Test func newFilesAddObjectsAndUnchangedFilesAreNotReadAgain() {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("m/a.yaml", deployment("a"))
        dir.write("m/b.yaml", deployment("b"))
        #expect(dir.apply(to: &state) == ["a", "b"])
        #expect(dir.apply(to: &state) == [])
        #expect(dir.reads == ["m/a.yaml", "m/b.yaml"], "an unchanged signature is not read again")
    }

    @Test func rewritingTheSameContentChangesNothing() {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a"))
        _ = dir.apply(to: &state)
        dir.touch("a.yaml")
        #expect(dir.apply(to: &state) == [])
        #expect(dir.reads.count == 2, "read again (new signature) but found identical")
    }

    @Test func aSpecChangeChangesTheSpecHashButALabelChangeDoesNot() throws {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a"))
        _ = dir.apply(to: &state)
        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "a")
        let first = try #require(state.objects[id])
        dir.write("a.yaml", deployment("a", label: "data"))
        #expect(dir.apply(to: &state) == ["a"])
        #expect(state.objects[id]?.specHash == first.specHash)
        #expect(state.objects[id]?.contentHash != first.contentHash)
        dir.write("a.yaml", deployment("a", parallelism: 2, label: "data"))
        #expect(dir.apply(to: &state) == ["a"])
        #expect(state.objects[id]?.specHash != first.specHash)
    }

    @Test func anInvalidEditKeepsTheLastValidVersionAndSaysWhy() throws {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a", parallelism: 2))
        _ = dir.apply(to: &state)
        dir.write("a.yaml", deployment("a", parallelism: 0))
        #expect(dir.apply(to: &state) == ["a"])
        let object = try #require(state.objects[ResourceID(kind: .flinkDeployment, namespace: "default", name: "a")])
        guard case .deployment(let d)? = object.resource else { Issue.record("lost the resource"); return }
        #expect(d.spec.taskManager?.replicas == 2, "still the last valid version")
        #expect(!object.isCurrent)
        #expect(object.diagnostics.map(\.description) == ["a.yaml:9:15: spec.taskManager.replicas: Invalid value: 0: must be greater than or equal to 1"])
        // Fixing it applies the new version and clears the error.
        dir.write("a.yaml", deployment("a", parallelism: 3))
        #expect(dir.apply(to: &state) == ["a"])
        #expect(state.objects.values.first?.isCurrent == true)
    }

    /// After a restart, an invalid manifest keeps the version the operator recorded as it ran:
    /// the resource stays managed (its pods are not orphaned) and the error is said.
    @Test func anInvalidManifestFirstReadAfterARestartKeepsTheRecordedVersion() throws {
        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "a")
        var recorder = FakeDirectory()
        var before = DesiredState()
        recorder.write("a.yaml", deployment("a", parallelism: 2, label: "data"))
        _ = recorder.apply(to: &before)
        let recorded = try #require(before.objects[id]?.resource)

        var options = DesiredState.Options()
        options.lastValid = { $0 == id ? recorded : nil }
        var state = DesiredState(options: options)
        var dir = FakeDirectory()
        dir.write("a.yaml", deployment("a", parallelism: 0, label: "data"))
        #expect(dir.apply(to: &state) == ["a"])
        let object = try #require(state.objects[id])
        guard case .deployment(let d)? = object.resource else { Issue.record("read as never valid"); return }
        #expect(d.spec.taskManager?.replicas == 2 && d.metadata.labels == ["team": "data"], "the recorded version, labels included")
        #expect(object.specHash == before.objects[id]?.specHash && object.contentHash == before.objects[id]?.contentHash)
        #expect(!object.isCurrent)
        #expect(object.diagnostics.map(\.description) == ["a.yaml:10:15: spec.taskManager.replicas: Invalid value: 0: must be greater than or equal to 1"])
        // Another resource's invalid manifest with no record stays never valid.
        dir.write("b.yaml", deployment("b", parallelism: 0))
        _ = dir.apply(to: &state)
        #expect(state.objects[ResourceID(kind: .flinkDeployment, namespace: "default", name: "b")]?.resource == nil)
    }

    /// A recorded version that cannot be read now is not "never valid" for good: the error is
    /// said, and the unchanged file is read again at the next scan.
    @Test func aRecordedVersionThatCannotBeReadIsAskedForAgainAtTheNextScan() throws {
        struct StoreDown: Error, CustomStringConvertible { var description: String { "database is locked" } }
        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "a")
        var recorder = FakeDirectory()
        var before = DesiredState()
        recorder.write("a.yaml", deployment("a", parallelism: 2))
        _ = recorder.apply(to: &before)
        let recorded = try #require(before.objects[id]?.resource)
        let failing = Mutex(true)

        var options = DesiredState.Options()
        options.lastValid = { _ in
            if failing.withLock({ $0 }) { throw StoreDown() }
            return recorded
        }
        var state = DesiredState(options: options)
        var dir = FakeDirectory()
        dir.write("a.yaml", deployment("a", parallelism: 0))
        _ = dir.apply(to: &state)
        #expect(state.objects[id]?.resource == nil)
        #expect(state.objects[id]?.diagnostics.contains { $0.message.contains("cannot be read (database is locked)") } == true)
        failing.withLock { $0 = false }
        #expect(dir.apply(to: &state) == ["a"], "read again though unchanged")
        #expect(state.objects[id]?.resource != nil)
        #expect(dir.reads == ["a.yaml", "a.yaml"])
        #expect(dir.apply(to: &state) == [] && dir.reads.count == 2, "then cached again")
    }

    @Test func aResourceThatWasNeverValidHasNoResourceButIsNamed() throws {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a", parallelism: 0))
        #expect(dir.apply(to: &state) == ["a"])
        let object = try #require(state.objects.values.first)
        #expect(object.resource == nil)
        #expect(object.diagnostics.count == 1)
    }

    @Test func anUnreadableFileDeletesNothing() throws {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a") + "\n---\n" + deployment("b"))
        _ = dir.apply(to: &state)
        dir.write("a.yaml", "apiVersion: [unterminated\n")
        #expect(dir.apply(to: &state) == ["a", "b"], "both report the problem")
        #expect(state.objects.count == 2)
        #expect(state.objects.values.allSatisfy { $0.resource != nil && !$0.isCurrent })
        #expect(state.objects.values.allSatisfy { $0.diagnostics.first?.message.hasPrefix("invalid YAML") == true })
    }

    @Test func theSameResourceInTwoFilesKeepsTheFirstAndNamesBoth() throws {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("x", parallelism: 1))
        dir.write("b.yaml", deployment("x", parallelism: 5))
        _ = dir.apply(to: &state)
        let object = try #require(state.objects.values.first)
        #expect(state.objects.count == 1)
        #expect(object.file == "a.yaml")
        guard case .deployment(let d)? = object.resource else { Issue.record("no resource"); return }
        #expect(d.spec.taskManager?.replicas == 1)
        #expect(object.diagnostics.map(\.description) == [
            #"b.yaml:4:9: metadata.name: Duplicate value: "x": flinkdeployment "default/x" is defined both at a.yaml:4:9 and at b.yaml:4:9; the first definition is used"#,
        ])
    }

    @Test func removingAFileRemovesItsResourcesAndMovingOneKeepsIt() {
        var dir = FakeDirectory()
        var state = DesiredState()
        dir.write("a.yaml", deployment("a"))
        dir.write("b.yaml", deployment("b"))
        _ = dir.apply(to: &state)
        dir.remove("a.yaml")
        #expect(dir.apply(to: &state) == ["a"])
        #expect(state.objects.keys.map(\.name) == ["b"])
        dir.remove("b.yaml")
        dir.write("c.yaml", deployment("b"))
        #expect(dir.apply(to: &state) == ["b"], "changed file, same resource")
        #expect(state.objects.values.first?.file == "c.yaml")
    }

    @Test func anEmptyDirectoryDeletesNothingUntilTheGraceHasPassed() {
        var options = DesiredState.Options()
        options.emptyGrace = .seconds(30)
        var dir = FakeDirectory()
        var state = DesiredState(options: options)
        let start = ContinuousClock.now
        dir.write("a.yaml", deployment("a"))
        _ = dir.apply(to: &state, at: start)
        dir.remove("a.yaml")
        #expect(dir.apply(to: &state, at: start.advanced(by: .seconds(1))) == [])
        #expect(state.emptyGuard != nil)
        #expect(dir.apply(to: &state, at: start.advanced(by: .seconds(29))) == [])
        #expect(state.objects.count == 1)
        #expect(dir.apply(to: &state, at: start.advanced(by: .seconds(32))) == ["a"])
        #expect(state.objects.isEmpty)
        #expect(state.emptyGuard == nil)
    }

    /// At start-up the operator knows resources from its store before any scan: an empty
    /// directory then is guarded too (an unmounted volume must not delete every cluster).
    @Test func anEmptyDirectoryAtStartIsGuardedWhenTheStoreKnowsResources() {
        var options = DesiredState.Options()
        options.knownBeforeFirstScan = 2
        var state = DesiredState(options: options)
        let dir = FakeDirectory()
        #expect(!state.hasScanned)
        var copy = dir
        #expect(copy.apply(to: &state) == [])
        #expect(state.hasScanned)
        #expect(state.emptyGuard != nil)
    }

    @Test func allowEmptyDeletesAtOnce() {
        var options = DesiredState.Options()
        options.allowEmpty = true
        var dir = FakeDirectory()
        var state = DesiredState(options: options)
        dir.write("a.yaml", deployment("a"))
        _ = dir.apply(to: &state)
        dir.remove("a.yaml")
        #expect(dir.apply(to: &state) == ["a"])
        #expect(state.objects.isEmpty)
    }
}
