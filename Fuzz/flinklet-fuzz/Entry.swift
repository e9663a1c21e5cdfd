#if FUZZING
/// libFuzzer's entry points. `hack/fuzz.sh` builds this with `-sanitize=fuzzer,address
/// -DFUZZING`: libFuzzer's `main` runs and calls these. The first argument names the target
/// (`flinklet-fuzz manifest CORPUS... -max_total_time=60`); the rest are libFuzzer's.

/// The target chosen by the first argument: written once, before libFuzzer runs an input.
nonisolated(unsafe) private var selectedTarget: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    guard argc.pointee >= 2, let first = argv.pointee[1], let target = FuzzTarget(rawValue: String(cString: first)) else {
        fatalError("usage: flinklet-fuzz TARGET [libFuzzer arguments...]; targets: \(names)")
    }
    selectedTarget = target
    // Drop the target name so libFuzzer does not take it for a corpus directory.
    for i in 1..<Int(argc.pointee) { argv.pointee[i] = argv.pointee[i + 1] }
    argc.pointee -= 1
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget!.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
#else
import Foundation

/// Without the fuzzer (an ordinary `swift build`): replays inputs, so the targets always compile
/// and a finding reproduces under the debugger: `flinklet-fuzz TARGET FILE|DIR...`.
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: flinklet-fuzz TARGET FILE|DIR...; targets: \(names)\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(path): no such file or directory\n".utf8))
                exit(1)
            }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                bytes.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("\(target.rawValue): \(count) inputs, no finding")
    }
}
#endif
