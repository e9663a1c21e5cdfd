// Parse + decode + validate throughput of generated manifests, and the validator's peak memory.
//
//   swift run -c release bench-validate [--count 1000] [--rounds 7] [--write-dir DIR]
//
// Prints one line per measurement. Run it through hack/bench-validate.sh.
import Foundation
import FlinkResources
import Manifests

struct Options {
    var count = 1000
    var rounds = 7
    var writeDir: String?

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--count": count = Int(value) ?? count; i += 1
            case "--rounds": rounds = Int(value) ?? rounds; i += 1
            case "--write-dir": writeDir = value; i += 1
            default: break
            }
            i += 1
        }
    }
}

/// A realistic manifest; `i` varies its mode, sizes and configuration so no two are alike.
func manifest(_ i: Int) -> String {
    switch i % 4 {
    case 0, 1:
        let mode = i % 4 == 0 ? "application" : "per-job"
        return """
            # generated manifest \(i)
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: app-\(i)
              namespace: team-\(i % 7)
              labels: {app: counter, shard: "\(i % 16)"}
            spec:
              flinkVersion: v2_3
              mode: \(mode)
              image: flink:2.3
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "\(1 + i % 4)"
                execution.checkpointing.interval: \(5 + i % 30)s
                state.backend.type: hashmap
                kubernetes.operator.periodic.savepoint.interval: 1h
                pipeline:
                  object-reuse: true
              jobManager:
                resource: {memory: \(768 + i % 4 * 256)m, cpu: 0.5}
              taskManager:
                replicas: \(1 + i % 3)
                resource:
                  memory: \(1 + i % 2)Gi
                  cpu: 1
              job:
                jarURI: local:///opt/flink/usrlib/job-\(i % 10).jar
                entryClass: com.example.Job\(i % 10)
                args: ["--rate", "\(i % 100)", "--output", "/tmp/out-\(i)"]
                parallelism: \(1 + i % 3)
                upgradeMode: \(["stateless", "savepoint", "last-state"][i % 3])
                state: running
            """
    case 2:
        return """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: session-\(i)
            spec:
              flinkVersion: v2_3
              mode: session
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "4"
              jobManager:
                resource:
                  memory: 1024m
              taskManager:
                replicas: 2
                resource:
                  memory: 2048m
            """
    default:
        return """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata:
              name: job-\(i)
            spec:
              deploymentName: session-\(i - 1)
              flinkConfiguration:
                execution.checkpointing.interval: 10s
              job:
                jarURI: https://artifacts.example.com/jobs/job-\(i % 10).jar
                args: ["--input", "topic-\(i)"]
                parallelism: 2
                upgradeMode: last-state
            """
    }
}

func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let options = Options(CommandLine.arguments)
let inputs = (0..<options.count).map { Array(manifest($0).utf8) }
let totalBytes = inputs.reduce(0) { $0 + $1.count }

// Sanity: every generated manifest must be valid, or the benchmark measures error paths.
for (i, bytes) in inputs.enumerated() {
    let file = ManifestReader.read(bytes: bytes, path: "gen-\(i).yaml")
    guard file.objects.count == 1, file.objects[0].isValid else {
        print("generated manifest \(i) is not valid:\n" + file.diagnostics.map(\.description).joined(separator: "\n"))
        exit(1)
    }
}

print("manifests: \(options.count) (\(totalBytes / options.count) bytes each on average), rounds: \(options.rounds)")
let clock = ContinuousClock()
var rates: [Double] = []
let cpuBefore = cpuSeconds()
for _ in 0..<options.rounds {
    var objects = 0
    let elapsed = clock.measure {
        for (i, bytes) in inputs.enumerated() {
            objects += ManifestReader.read(bytes: bytes, path: "gen-\(i).yaml").objects.count
        }
    }
    precondition(objects == options.count)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    rates.append(Double(options.count) / seconds)
}
let cpuPerManifest = (cpuSeconds() - cpuBefore) / Double(options.count * options.rounds)
rates.sort()
func fmt(_ x: Double) -> String { String(Int(x.rounded())) }
print("in memory (parse + decode + validate): median \(fmt(rates[rates.count / 2])) manifests/s, best \(fmt(rates.last!)), worst \(fmt(rates.first!)); \(String(format: "%.1f", cpuPerManifest * 1e6)) µs CPU per manifest")

// The same work spread over every core, as `ManifestSet.load` does it.
var parallelRates: [Double] = []
let indexed = Array(inputs.indices)
for _ in 0..<options.rounds {
    let elapsed = clock.measure {
        let files = concurrentMap(indexed) { i in ManifestReader.read(bytes: inputs[i], path: "gen-\(i).yaml") }
        precondition(files.count == options.count)
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    parallelRates.append(Double(options.count) / seconds)
}
parallelRates.sort()
print("in memory, \(ProcessInfo.processInfo.activeProcessorCount) cores: median \(fmt(parallelRates[parallelRates.count / 2])) manifests/s, best \(fmt(parallelRates.last!))")

if let dir = options.writeDir {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (i, bytes) in inputs.enumerated() {
        _ = FileManager.default.createFile(atPath: "\(dir)/m-\(String(format: "%04d", i)).yaml", contents: Data(bytes))
    }
    var dirRates: [Double] = []
    for _ in 0..<options.rounds {
        let elapsed = clock.measure {
            let set = ManifestSet.load(paths: [dir], recursive: false)
            precondition(set.objects.count == options.count && !set.hasErrors)
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        dirRates.append(Double(options.count) / seconds)
    }
    dirRates.sort()
    print("from a directory (list + read + parse + decode + validate + duplicate check): median \(fmt(dirRates[dirRates.count / 2])) manifests/s, best \(fmt(dirRates.last!))")
}
print("peak resident memory: \(peakResidentKiB() / 1024) MiB")
