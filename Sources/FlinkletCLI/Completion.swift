import ArgumentParser

/// `flinklet completion bash|zsh|fish`: the shell completion script, generated from the command
/// definitions by swift-argument-parser.
struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script (bash, zsh or fish).",
        discussion: """
            bash: source <(flinklet completion bash), or save it into \
            /etc/bash_completion.d/flinklet. zsh: flinklet completion zsh > "${fpath[1]}/_flinklet".
            """
    )

    @Argument(help: "bash, zsh or fish.")
    var shell: String

    func validate() throws {
        guard CompletionShell(rawValue: shell) != nil else {
            throw ValidationError("unsupported shell \"\(shell)\": use bash, zsh or fish")
        }
    }

    func run() {
        print(Flinklet.completionScript(for: CompletionShell(rawValue: shell)!), terminator: "")
    }
}
