// Controller benchmarks against the real `flinklet run` binary (see hack/bench-controller.sh):
//   reaction  manifest saved → first pod process running, p50/p99 over 200 new manifests
//   scale     1,000 resources with one sleep pod each: cold start, operator memory,
//             restart + re-adoption of all pods, and the CPU of one relist with no change
//
//   endpoint  the same 1,000 resources: operator memory without the HTTP endpoint, with it and the
//             Kubernetes API (the default), and with it alone (--api 0); for both of the latter
//             /metrics latency p50/p99 over 1,000 scrapes
//
//   bench-controller --flinklet PATH [--edits 200] [--resources 1000] [--scrapes 1000] [--only reaction|scale|endpoint]
import FlinkClient
import Foundation
import Logging
import Manifests
import Runtime

struct Options {
    var flinklet = ""
    var edits = 200
    var resources = 1000
    var scrapes = 1000
    /// Run only this phase (nil: all).
    var only: String?

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--flinklet": flinklet = value; i += 1
            case "--edits": edits = Int(value) ?? edits; i += 1
            case "--resources": resources = Int(value) ?? resources; i += 1
            case "--scrapes": scrapes = Int(value) ?? scrapes; i += 1
            case "--only": only = value; i += 1
            default: break
            }
            i += 1
        }
    }
}

func realtimeNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// A scratch area with a manifest directory, a state directory and a marks directory where
/// pods write their start time.
struct Workspace {
    let root: String
    var manifests: String { root + "/manifests" }
    var state: String { root + "/state" }
    var marks: String { root + "/marks" }
    let marker: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-bench-\(UUID().uuidString.prefix(8))").path
        marker = "flinklet-bench-\(UUID().uuidString.prefix(8))"
        for dir in [root + "/manifests", root + "/marks"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    /// Writes a manifest atomically (temp file + rename, like an editor or `apply`). The pod
    /// writes its start time into `marks/<mark>` (default: the resource name).
    func writeManifest(_ name: String, mark: String? = nil) throws {
        let text = """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: \(name)
              annotations:
                flinklet.dev/command: "date +%s%N > \(marks)/\(mark ?? name); exec sleep 3600 # \(marker)"
            spec:
              flinkVersion: v2_3
              mode: session
            """
        let temp = manifests + "/.\(name).tmp"
        try text.write(toFile: temp, atomically: false, encoding: .utf8)
        guard rename(temp, manifests + "/\(name).yaml") == 0 else { throw POSIXError(.EIO) }
    }

    func mark(_ name: String) -> Int64? {
        guard let text = try? String(contentsOfFile: marks + "/" + name, encoding: .utf8) else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func markCount() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: marks)) ?? []).count }

    func startOperator(_ flinklet: String, log: String, http: String = "0", extra: [String] = []) throws -> ChildProcess {
        let logPath = root + "/" + log
        return try ChildProcess.spawn(
            [flinklet, "run", "--manifests", manifests, "--state-dir", state, "--log-format", "json", "--engine", "command", "--http", http] + extra,
            options: .init(standardOutput: .file(logPath), standardError: .file(logPath), newProcessGroup: true))
    }

    /// Pods of this benchmark: process-group leaders running `sleep 3600`, started by us.
    func pods() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  fields[0] != "Z", Int32(fields[2]) == pid,
                  let environ = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            return String(decoding: environ, as: UTF8.self).hasPrefix("sleep\u{0}3600")
        }
    }

    func killPods(_ pids: [Int32]) {
        for pid in pids { kill(-pid, SIGKILL) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

func waitFor(timeout: TimeInterval, poll: useconds_t = 1_000, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(poll)
    }
    return condition()
}

/// Resident memory split as the kernel counts it: anonymous (heap, stacks) and file-backed
/// (the binary's and shared libraries' pages the process touched), in KiB.
func residentSplitKiB(_ pid: Int32) -> (anon: Int, file: Int) {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (-1, -1) }
    func value(_ key: String) -> Int {
        status.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? -1
    }
    return (value("RssAnon:"), value("RssFile:"))
}

func residentKiB(_ pid: Int32) -> (rss: Int, peak: Int) {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (-1, -1) }
    func value(_ key: String) -> Int {
        status.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? -1
    }
    return (value("VmRSS:"), value("VmHWM:"))
}

/// With BENCH_SMAPS=DIR, a copy of the process's /proc/PID/smaps as DIR/LABEL.smaps (read them
/// with hack/smaps.py): which mappings are resident at each measurement.
/// With BENCH_INSPECT=COMMAND too, `COMMAND PID` runs at each measurement, its output saved as
/// DIR/LABEL.inspect (hack/resident-code.py, say: which code of the binary is resident).
func saveSmaps(_ pid: Int32, _ label: String) {
    guard let dir = ProcessInfo.processInfo.environment["BENCH_SMAPS"], !dir.isEmpty else { return }
    if let command = ProcessInfo.processInfo.environment["BENCH_INSPECT"], !command.isEmpty {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = system("\(command) \(pid) > '\(dir)/\(label).inspect' 2>&1")
    }
    // Read to the end: /proc files report size 0, and a read sized by stat gets one page.
    let fd = open("/proc/\(pid)/smaps", O_RDONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        data.append(contentsOf: chunk[0..<count])
    }
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try? data.write(to: URL(fileURLWithPath: dir + "/" + label + ".smaps"))
}

/// KiB as `39.6 MiB (41.5 MB)`: both units, since targets are written in either.
func mib(_ kib: Int) -> String {
    "\(fmt(Double(kib) / 1024)) MiB (\(fmt(Double(kib) * 1024 / 1_000_000)) MB)"
}

func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 13 else { return -1 }
    return (Double(fields[11]) ?? 0) / 100 + (Double(fields[12]) ?? 0) / 100
}

let options = Options(CommandLine.arguments)
guard !options.flinklet.isEmpty else {
    print("usage: bench-controller --flinklet PATH [--edits N] [--resources N]")
    exit(2)
}

func runs(_ phase: String) -> Bool { options.only == nil || options.only == phase }

// MARK: Reaction

if runs("reaction") {
    let ws = try Workspace()
    let flinklet = try ws.startOperator(options.flinklet, log: "reaction.log")
    usleep(1_000_000)  // operator up and watching
    var latencies: [Double] = []
    for i in 0..<options.edits {
        let name = "r-\(i)"
        try ws.writeManifest(name)
        let saved = realtimeNanos()
        guard waitFor(timeout: 10, { ws.mark(name) != nil }), let started = ws.mark(name) else {
            print("reaction: pod \(name) did not start within 10 s")
            break
        }
        latencies.append(Double(started - saved) / 1e6)
    }
    // Edits of one existing resource: each changes the pod's command, so its pod is replaced
    // (the old one stopped, a new one started).
    var edits: [Double] = []
    try ws.writeManifest("edited", mark: "edit-0")
    _ = waitFor(timeout: 10, { ws.mark("edit-0") != nil })
    for i in 1...options.edits {
        try ws.writeManifest("edited", mark: "edit-\(i)")
        let saved = realtimeNanos()
        guard waitFor(timeout: 10, { ws.mark("edit-\(i)") != nil }), let started = ws.mark("edit-\(i)") else {
            print("reaction: edit \(i) did not start a pod within 10 s")
            break
        }
        edits.append(Double(started - saved) / 1e6)
    }
    flinklet.signal(SIGTERM)
    _ = flinklet.wait()
    ws.killPods(ws.pods())
    ws.remove()
    latencies.sort()
    edits.sort()
    print("reaction (manifest saved → pod process running), \(latencies.count) new manifests: p50 \(fmt(percentile(latencies, 0.5))) ms, p99 \(fmt(percentile(latencies, 0.99))) ms, max \(fmt(latencies.last ?? 0)) ms (target p99 ≤ 25 ms)")
    print("reaction, \(edits.count) edits of one resource (its pod replaced: old stopped, new started): p50 \(fmt(percentile(edits, 0.5))) ms, p99 \(fmt(percentile(edits, 0.99))) ms, max \(fmt(edits.last ?? 0)) ms")
}

// MARK: Scale

if runs("scale") {
    let ws = try Workspace()
    let n = options.resources
    for i in 0..<n { try ws.writeManifest(String(format: "s-%04d", i)) }
    let coldStart = Date()
    let first = try ws.startOperator(options.flinklet, log: "scale-1.log")
    guard waitFor(timeout: 120, poll: 10_000, { ws.markCount() >= n }) else {
        print("scale: only \(ws.markCount()) of \(n) pods started within 120 s")
        exit(1)
    }
    let coldSeconds = Date().timeIntervalSince(coldStart)
    print("scale: cold start, \(n) manifests → \(n) pods running: \(fmt(coldSeconds, 2)) s")
    usleep(3_000_000)  // let status writes and readiness settle
    let memory = residentKiB(first.pid)
    saveSmaps(first.pid, "scale")
    print("scale: operator resident memory with \(n) resources and pods: \(mib(memory.rss)) (peak \(mib(memory.peak)); target ≤ 40 MB)")
    let cpuBefore = cpuSeconds(first.pid)
    usleep(10_000_000)
    let idle = cpuSeconds(first.pid) - cpuBefore
    print("scale: operator CPU while idle with \(n) resources: \(fmt(idle * 10, 1)) % of one core over 10 s (relist every 10 s, requeue every 60 s)")
    let settled = residentKiB(first.pid)
    print("scale: operator resident memory after 10 s idle: \(mib(settled.rss)) (peak since start \(mib(settled.peak)))")

    let before = ws.pods()
    first.signal(SIGTERM)
    _ = first.wait()
    let restart = Date()
    let second = try ws.startOperator(options.flinklet, log: "scale-2.log")
    let adopted = waitFor(timeout: 60, poll: 2_000) {
        ((try? String(contentsOfFile: ws.root + "/scale-2.log", encoding: .utf8)) ?? "").contains("\"pods.adopted\":\"\(n)\"")
    }
    let adoptSeconds = Date().timeIntervalSince(restart)
    usleep(5_000_000)
    let after = ws.pods()
    print("scale: restart → \(n) pods re-adopted: \(adopted ? fmt(adoptSeconds, 2) + " s" : "not within 60 s") (target ≤ 2 s); pods before \(before.count), after \(after.count), identical: \(Set(before) == Set(after))")
    second.signal(SIGTERM)
    _ = second.wait()

    // One relist with no change, in this process, on the same directory the operator read.
    var configuration = DirectorySource.Configuration(directory: ws.manifests)
    configuration.resync = .seconds(3600)
    let source = DirectorySource(configuration: configuration, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    await source.relist()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpu0 = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    let rounds = 20
    for _ in 0..<rounds { _ = await source.relist() }
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpu1 = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    print("scale: one relist of \(n) manifests with no change: \(fmt((cpu1 - cpu0) / Double(rounds) * 1000, 1)) ms CPU (target ≤ 100 ms)")

    ws.killPods(after)
    ws.remove()
}

// MARK: Endpoint

/// A loopback port free right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One operator adopting the benchmark's resources with its HTTP endpoint on: resident memory
/// once every resource was reconciled, then /metrics scraped `scrapes` times.
struct Served {
    var before: (rss: Int, peak: Int) = (0, 0)
    var after: (rss: Int, peak: Int) = (0, 0)
    var afterSplit: (anon: Int, file: Int) = (0, 0)
    var latencies: [Double] = []
    var bytes = 0
    var failures = 0
    /// The Kubernetes API was asked for and did not come up (its kubeconfig never written).
    var apiMissing = false
}

/// `api`: the Kubernetes API on (a free port), off (`--api 0`), or nil: no `--api` argument.
func serve(_ ws: Workspace, label: String, api: Bool?) async throws -> Served {
    let n = options.resources
    let port = freePort()
    // The API on a port of its own, named explicitly: one that cannot listen stops the operator
    // instead of being logged and done without (which the default address would be), so the
    // numbers are never those of an operator without it.
    let apiArguments = api.map { ["--api", $0 ? "127.0.0.1:\(freePort())" : "0"] } ?? []
    let kubeconfig = ws.state + "/kubeconfig"
    try? FileManager.default.removeItem(atPath: kubeconfig)
    let log = "endpoint-\(label).log"
    let child = try ws.startOperator(options.flinklet, log: log, http: "127.0.0.1:\(port)", extra: apiArguments)
    _ = waitFor(timeout: 60, poll: 2_000) {
        ((try? String(contentsOfFile: ws.root + "/" + log, encoding: .utf8)) ?? "").contains("\"pods.adopted\":\"\(n)\"")
    }
    usleep(5_000_000)  // every resource reconciled once: its series exist
    var served = Served()
    served.apiMissing = api == true && !FileManager.default.fileExists(atPath: kubeconfig)
    served.before = residentKiB(child.pid)
    saveSmaps(child.pid, "endpoint-\(label)")
    for _ in 0..<options.scrapes {
        let began = DispatchTime.now().uptimeNanoseconds
        if let answer = try? await LoopbackGet.get(port: port, target: "/metrics"), answer.status == 200 {
            served.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6)
            served.bytes = answer.body.count
        } else {
            served.failures += 1
        }
    }
    served.after = residentKiB(child.pid)
    served.afterSplit = residentSplitKiB(child.pid)
    saveSmaps(child.pid, "endpoint-\(label)-scraped")
    served.latencies.sort()
    child.signal(SIGTERM)
    _ = child.wait()
    return served
}

if runs("endpoint") {
    let ws = try Workspace()
    let n = options.resources
    for i in 0..<n { try ws.writeManifest(String(format: "e-%04d", i)) }
    // No endpoint at all (--http 0).
    let without = try ws.startOperator(options.flinklet, log: "endpoint-without.log", http: "0")
    guard waitFor(timeout: 120, poll: 10_000, { ws.markCount() >= n }) else {
        print("endpoint: only \(ws.markCount()) of \(n) pods started within 120 s")
        exit(1)
    }
    usleep(5_000_000)
    let baseline = residentKiB(without.pid)
    let baselineSplit = residentSplitKiB(without.pid)
    saveSmaps(without.pid, "endpoint-without")
    without.signal(SIGTERM)
    _ = without.wait()

    // The same resources and pods adopted by the default configuration (/healthz, /readyz,
    // /metrics and the Kubernetes API's listener), then by one without the API (--api 0).
    // BENCH_ENDPOINT=plain instead: one run with --http alone (an operator from before --api).
    let plain = ProcessInfo.processInfo.environment["BENCH_ENDPOINT"] == "plain"
    let withAPI = plain ? nil : try await serve(ws, label: "with", api: true)
    let noAPI = try await serve(ws, label: plain ? "plain" : "noapi", api: plain ? nil : false)
    let pods = ws.pods()
    ws.killPods(pods)
    ws.remove()
    func report(_ name: String, _ s: Served) {
        print("endpoint, \(name): /metrics with \(n) resources (\(s.bytes / 1024) KiB each), \(s.latencies.count) scrapes (\(s.failures) failed): p50 \(fmt(percentile(s.latencies, 0.5), 2)) ms, p99 \(fmt(percentile(s.latencies, 0.99), 2)) ms, max \(fmt(s.latencies.last ?? 0, 2)) ms (target p99 ≤ 20 ms)")
        print("endpoint, \(name): operator resident memory \(mib(s.before.rss)), after \(options.scrapes) scrapes \(mib(s.after.rss)) (peak \(mib(s.after.peak))); target ≤ 40 MB"
              + (s.apiMissing ? " — NOT MEASURED AS ASKED: the Kubernetes API did not come up" : ""))
        print("endpoint, \(name): of which anonymous / file-backed (code pages of the binary and libraries) after the scrapes: \(mib(s.afterSplit.anon)) / \(mib(s.afterSplit.file))")
    }
    print("endpoint: operator resident memory with \(n) resources and pods, without the endpoint (--http 0): \(mib(baseline.rss)); anonymous / file-backed \(mib(baselineSplit.anon)) / \(mib(baselineSplit.file))")
    if let withAPI { report("default (endpoint and Kubernetes API)", withAPI) }
    report(plain ? "--http alone" : "--api 0", noAPI)
}
