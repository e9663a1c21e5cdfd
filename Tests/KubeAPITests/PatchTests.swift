import FlinkResources
@testable import KubeAPI
import Testing

struct PatchTests {
    @Test func aMergePatchRemovesNullsAndReplacesArrays() {
        let target = JSONText.parse(#"{"a":{"b":1,"c":[1,2]},"d":"x"}"#)!
        let patch = JSONText.parse(#"{"a":{"b":null,"c":[3]},"e":true}"#)!
        #expect(JSONText.string(Patch.merge(target, patch)) == #"{"a":{"c":[3]},"d":"x","e":true}"#)
    }

    @Test func aJSONPatchAddsReplacesRemovesAndTests() throws {
        let target = JSONText.parse(#"{"spec":{"args":["a"],"n":1}}"#)!
        let patch = JSONText.parse(#"[{"op":"add","path":"/spec/args/-","value":"b"},{"op":"replace","path":"/spec/n","value":2},{"op":"test","path":"/spec/n","value":2},{"op":"remove","path":"/spec/args/0"}]"#)!
        #expect(JSONText.string(try Patch.json(target, patch)) == #"{"spec":{"args":["b"],"n":2}}"#)
    }

    @Test func aJSONPatchOnAMissingPathFails() {
        let target = JSONText.parse(#"{"spec":{}}"#)!
        let patch = JSONText.parse(#"[{"op":"replace","path":"/spec/missing","value":1}]"#)!
        #expect(throws: Patch.Failure.self) { try Patch.json(target, patch) }
    }
}
