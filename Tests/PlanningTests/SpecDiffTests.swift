import FlinkResources
import Testing
@testable import Planning
@testable import Reconciliation

@Suite struct SpecDiffTests {
    func app(args: [String] = ["--v", "1"], parallelism: Int = 1, replicas: Int? = nil, upgradeMode: UpgradeMode = .savepoint,
             configuration: [String: String] = [:], nonce: Int64? = nil, redeploy: Int64? = nil) -> FlinkResource {
        .deployment(FlinkDeployment(metadata: ObjectMeta(name: "app"), spec: FlinkDeploymentSpec(
            job: JobSpec(jarURI: "local:///j.jar", parallelism: parallelism, args: args, savepointTriggerNonce: nonce,
                         upgradeMode: upgradeMode, savepointRedeployNonce: redeploy),
            flinkConfiguration: FlinkConfiguration(configuration), flinkVersion: .v2_3,
            taskManager: TaskManagerSpec(replicas: replicas), mode: .application)))
    }

    @Test func noChangeIsNoDiff() {
        #expect(SpecDiff(old: app(), new: app()).changes.isEmpty)
        #expect(SpecDiff(old: app(), new: app()).type == nil)
    }

    @Test func theLargestChangeWinsAndListsAreOneField() {
        let diff = SpecDiff(old: app(), new: app(args: ["--v", "2", "--x"], replicas: 2, upgradeMode: .lastState, nonce: 3))
        #expect(diff.changes.map(\.path) == ["spec.job.args", "spec.job.savepointTriggerNonce", "spec.job.upgradeMode", "spec.taskManager.replicas"])
        #expect(diff.changes.map(\.type) == [.upgrade, .ignore, .ignore, .scale])
        #expect(diff.type == .upgrade)
        #expect(diff.paths(atLeast: .upgrade) == ["spec.job.args"])
    }

    @Test(arguments: [
        ("kubernetes.operator.periodic.savepoint.interval", DiffType.ignore),
        ("flinklet.session.block-on-session-jobs", .ignore),
        ("state.backend.type", .upgrade),
    ])
    func configurationKeysAreClassifiedByName(key: String, type: DiffType) {
        let diff = SpecDiff(old: app(), new: app(configuration: [key: "x"]))
        #expect(diff.changes.map(\.path) == ["spec.flinkConfiguration[\"\(key)\"]"])
        #expect(diff.type == type)
    }

    @Test func savepointRedeployNonceOutranksEverything() {
        #expect(SpecDiff(old: app(), new: app(parallelism: 4, redeploy: 1)).type == .savepointRedeploy)
    }

    @Test func aFirstDeployListsEveryField() {
        #expect(SpecDiff(old: nil, new: app()).type == .upgrade)
    }
}
