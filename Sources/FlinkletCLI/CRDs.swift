import ArgumentParser
import Foundation
import FlinkResources

/// `flinklet crds`: prints (or writes) the CustomResourceDefinitions of Flinklet's resources,
/// generated from the same schema the operator enforces.
struct CRDs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crds",
        abstract: "Print the CustomResourceDefinitions of FlinkDeployment, FlinkSessionJob and FlinkStateSnapshot.",
        discussion: "With --output-dir, write one file per kind (this is how crds/ in the repository is made)."
    )

    @Option(help: ArgumentHelp("Write <plural>.flink.apache.org.yaml files into this directory.", valueName: "dir"))
    var outputDir: String?

    @Option(help: ArgumentHelp("Also write the field reference (Markdown) to this file.", valueName: "file"))
    var reference: String?

    func run() throws {
        if let reference {
            try FieldReference.markdown().write(toFile: reference, atomically: true, encoding: .utf8)
            print("wrote \(reference)")
        }
        for kind in ResourceKind.allCases {
            let yaml = CRD.yaml(for: kind)
            if let outputDir {
                let path = outputDir + "/" + CRD.fileName(for: kind)
                try yaml.write(toFile: path, atomically: true, encoding: .utf8)
                print("wrote \(path)")
            } else {
                print("---")
                print(yaml, terminator: "")
            }
        }
    }
}
