import FlinkResources
import Foundation
import Store
import Testing

/// `get -o jsonpath=...`, `get -w`, and `completion`: what scripts and shells use.
@Suite struct GetScriptingTests {

    // MARK: -o jsonpath

    @Test func jsonPathOnOneResourcePrintsTheValueWithoutANewline() throws {
        try withSeededState { state in
            let result = try state.run(["get", "fdep", "a", "-o", "jsonpath={.status.lifecycleState}"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdout == "STABLE", "\(result)")
            let generation = try state.run(["get", "fdep/a", "--output=jsonpath={.metadata.generation}/{.status.observedGeneration}{'\\n'}"])
            #expect(generation.stdout == "3/2\n", "\(generation)")
        }
    }

    @Test func jsonPathOnAListAppliesToTheListObject() throws {
        try withSeededState { state in
            let names = try state.run(["get", "fdep", "-o", "jsonpath={.items[*].metadata.name}"])
            #expect(names.exited && names.status == 0, "\(names)")
            #expect(names.stdout == "a b", "\(names)")

            let template = #"{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#
            let ready = try state.run(["get", "fdep", "-o", "jsonpath=" + template])
            #expect(ready.stdout == "a=True\nb=False\n", "\(ready)")

            let first = try state.run(["get", "-A", "-o", "jsonpath={.items[0].metadata.name} {.items[-1].metadata.namespace} {.items[1:3].kind}"])
            #expect(first.stdout == "a default FlinkDeployment FlinkDeployment", "\(first)")

            let missing = try state.run(["get", "fdep", "a", "-o", "jsonpath={.status.nothing}"])
            #expect(missing.exited && missing.status == 0 && missing.stdout == "", "\(missing)")
        }
    }

    @Test func anInvalidJSONPathIsAUsageError() throws {
        try withSeededState { state in
            let result = try state.run(["get", "fdep", "-o", "jsonpath={.items[*"])
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.contains("error parsing jsonpath"), "\(result)")
            let format = try state.run(["get", "fdep", "-o", "toml"])
            #expect(format.exited && format.status == 2, "\(format)")
        }
    }

    // MARK: -w

    @Test func watchPrintsTheTableThenARowForEachChange() throws {
        try withSeededState { state in
            let watch = try RunningFlinklet(["get", "fdep", "-w", "--state-dir", state.state], in: state.dir.url,
                                            environment: Workspace.cleanEnvironment)
            defer { watch.stop() }
            #expect(eventually { watch.stdoutLines.count >= 3 }, "\(watch.description)")
            #expect(watch.stdoutLines == [
                "NAME   JOB STATUS   LIFECYCLE STATE   READY   AGE",
                "a      RUNNING      STABLE            True    25h",
                "b                   FAILED            False   20m",
            ], "\(watch.description)")

            // b recovers: one new row, aligned with the header.
            let store = try Store.open(stateDirectory: state.state)
            var b = try #require(try store.resource("FlinkDeployment/default/b"))
            try b.setStatus(FlinkDeploymentStatus(jobStatus: JobStatus(state: "RUNNING"), observedGeneration: 1, lifecycleState: .stable,
                                                  conditions: [Condition(type: "Ready", status: .true)]))
            try store.upsert(b)
            #expect(eventually { watch.stdoutLines.count >= 4 }, "\(watch.description)")
            #expect(watch.stdoutLines.last == "b      RUNNING      STABLE            True    20m", "\(watch.description)")

            // A new resource appears, a is deleted: a row each.
            try store.upsert(ResourceRecord(id: ResourceID(kind: .flinkDeployment, namespace: "default", name: "new"),
                                            specHash: "h", spec: "{}", createdAt: state.ago(10)))
            #expect(eventually { watch.stdoutLines.contains { $0.hasPrefix("new ") } }, "\(watch.description)")
            try store.deleteResource("FlinkDeployment/default/a")
            #expect(eventually { watch.stdoutLines.filter { $0.hasPrefix("a ") }.count == 2 }, "\(watch.description)")
            #expect(watch.process.isRunning)
        }
    }

    @Test func watchOnlyPrintsChangesAsNamesOrObjects() throws {
        try withSeededState { state in
            let names = try RunningFlinklet(["get", "fdep", "--watch-only", "-o", "name", "--state-dir", state.state], in: state.dir.url,
                                            environment: Workspace.cleanEnvironment)
            defer { names.stop() }
            let json = try RunningFlinklet(["get", "fdep", "b", "-w", "-o", "jsonpath={.status.lifecycleState}{\"\\n\"}", "--state-dir", state.state],
                                           in: state.dir.url, environment: Workspace.cleanEnvironment)
            defer { json.stop() }
            #expect(eventually { json.stdoutLines == ["FAILED"] }, "\(json.description)")
            usleep(700_000)
            #expect(names.stdout == "", "\(names.description)")

            let store = try Store.open(stateDirectory: state.state)
            var b = try #require(try store.resource("FlinkDeployment/default/b"))
            try b.setStatus(FlinkDeploymentStatus(observedGeneration: 1, lifecycleState: .stable))
            try store.upsert(b)
            #expect(eventually { names.stdoutLines == ["flinkdeployment.flink.apache.org/b"] }, "\(names.description)")
            #expect(eventually { json.stdoutLines == ["FAILED", "STABLE"] }, "\(json.description)")
        }
    }

    // MARK: completion

    @Test(arguments: [("bash", "flinklet"), ("zsh", "#compdef flinklet"), ("fish", "flinklet")])
    func completionPrintsAScriptForTheShell(shell: String, expected: String) throws {
        let result = try FlinkletBinary.run(["completion", shell])
        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stdout.contains(expected), "\(result)")
        // The new verbs complete too.
        for verb in ["apply", "diff", "delete", "wait"] { #expect(result.stdout.contains(verb), "\(shell): \(verb)") }
    }

    @Test func completionForAnUnknownShellIsAUsageError() throws {
        let result = try FlinkletBinary.run(["completion", "tcsh"])
        #expect(result.exited && result.status == 2, "\(result)")
        #expect(result.stderr.contains(#"unsupported shell "tcsh""#), "\(result)")
    }
}
