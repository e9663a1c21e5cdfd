import Foundation
@testable import Runtime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pure parts: spec identity and encoding, validation, backoff arithmetic, /proc parsing,
/// log scanning and rotation on plain files.
@Suite("Model")
struct ModelTests {
    static let spec = PodSpec(
        name: "orders-jobmanager-0", argv: ["java", "-cp", "lib/*", "Main"], environment: ["B": "2", "A": "1"],
        workingDirectory: "/srv/orders", logPath: "/srv/orders/log", memoryLimitBytes: 1 << 30,
        restartPolicy: .onFailure, readiness: .httpGet(port: 8081, path: "/overview"),
        terminationGracePeriod: .milliseconds(1500), tmpDirectory: "/srv/orders/tmp", labels: ["app": "orders"])

    @Test func specHashIsStableHexAndSensitiveToEveryChange() throws {
        let hash = Self.spec.specHash
        #expect(hash.count == 16)
        #expect(hash.allSatisfy { $0.isHexDigit })
        // Same value built in another order of dictionary insertion: same hash.
        var same = Self.spec
        same.environment = ["A": "1", "B": "2"]
        #expect(same.specHash == hash)
        var changed = Self.spec
        changed.argv.append("--verbose")
        #expect(changed.specHash != hash)
        changed = Self.spec
        changed.terminationGracePeriod = .seconds(2)
        #expect(changed.specHash != hash)
        changed = Self.spec
        changed.readiness = .logLine("started")
        #expect(changed.specHash != hash)
    }

    @Test func fnvMatchesReferenceVectors() {
        // From the FNV reference test suite.
        #expect(FNV1a64.hash([]) == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a64.hash(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a64.hex(Array("foobar".utf8)) == "85944171f73967e8")
    }

    @Test func specRoundTripsThroughJSONWithGraceInSeconds() throws {
        let data = try JSONEncoder().encode(Self.spec)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["terminationGracePeriodSeconds"] as? Double == 1.5)
        #expect(try JSONDecoder().decode(PodSpec.self, from: data) == Self.spec)

        let record = PodRecord(spec: Self.spec, pid: 42, pgid: 42, processStartTicks: 123_456, startedAt: Date(timeIntervalSince1970: 1_000), restartCount: 3)
        #expect(try JSONDecoder().decode(PodRecord.self, from: JSONEncoder().encode(record)) == record)
    }

    @Test func specDecodingFillsDefaults() throws {
        let json = #"{"name":"p","argv":["/bin/true"],"workingDirectory":"/","logPath":"/tmp/p.log"}"#
        let spec = try JSONDecoder().decode(PodSpec.self, from: Data(json.utf8))
        #expect(spec.logLimitBytes == 10 * 1024 * 1024)
        #expect(spec.restartPolicy == .always)
        #expect(spec.terminationGracePeriod == .seconds(30))
        #expect(spec.environment.isEmpty && spec.labels.isEmpty && spec.readiness == nil)
    }

    /// One invalid variant of `spec` per rule.
    static let invalidSpecs: [(String, PodSpec)] = {
        func variant(_ label: String, _ mutate: (inout PodSpec) -> Void) -> (String, PodSpec) {
            var spec = ModelTests.spec
            mutate(&spec)
            return (label, spec)
        }
        return [
            variant("empty name") { $0.name = "" },
            variant("empty argv") { $0.argv = [] },
            variant("NUL in argv") { $0.argv = ["a\u{0}b"] },
            variant("bad env name") { $0.environment = ["A=B": "x"] },
            variant("empty working directory") { $0.workingDirectory = "" },
            variant("zero log limit") { $0.logLimitBytes = 0 },
            variant("zero memory limit") { $0.memoryLimitBytes = 0 },
            variant("negative grace") { $0.terminationGracePeriod = .seconds(-1) },
            variant("probe port") { $0.readiness = .httpGet(port: 0, path: "/") },
            variant("probe path") { $0.readiness = .httpGet(port: 80, path: "/a b") },
            variant("empty log line") { $0.readiness = .logLine("") },
        ]
    }()

    @Test(arguments: invalidSpecs)
    func invalidSpecsAreRejected(_ label: String, _ spec: PodSpec) {
        #expect(throws: DriverError.self, "\(label)") { try spec.validate() }
    }

    @Test func theReferenceSpecIsValid() throws {
        try Self.spec.validate()
    }

    @Test func backoffDoublesFromOneSecondToFiveMinutes() {
        let backoff = RestartBackoff.standard
        let delays = (1...11).map { backoff.delay(step: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { Duration.seconds($0) })
        #expect(backoff.delay(step: 10_000) == .seconds(300))
    }

    @Test func backoffResetsAfterTenMinutesOfHealthyRunning() {
        let backoff = RestartBackoff.standard
        #expect(backoff.nextStep(after: 0, ranFor: .seconds(1)) == 1)
        #expect(backoff.nextStep(after: 5, ranFor: .seconds(599)) == 6)
        #expect(backoff.nextStep(after: 5, ranFor: .seconds(600)) == 1)
    }

    @Test func restartPolicyDecides() {
        #expect(RestartPolicy.always.restarts(after: .succeeded))
        #expect(RestartPolicy.onFailure.restarts(after: .failed))
        #expect(!RestartPolicy.onFailure.restarts(after: .succeeded))
        #expect(!RestartPolicy.never.restarts(after: .failed))
    }

    @Test func statParsingCountsFieldsFromTheLastParenthesis() throws {
        // A command name with spaces and parentheses, as a process may choose.
        let line = "4242 (evil) (name x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcessInfoReader.parseStat(Array(line.utf8)))
        #expect(stat.pid == 4242)
        #expect(stat.state == "S")
        #expect(stat.parentPID == 1)
        #expect(stat.pgid == 4242)
        #expect(stat.sessionID == 4242)
        #expect(stat.startTicks == 987_654)
        #expect(stat.residentPages == 2500)
        #expect(ProcessInfoReader.parseStat(Array("garbage".utf8)) == nil)
        #expect(ProcessInfoReader.parseStat(Array("1 (x) S 1 2".utf8)) == nil)
    }

    @Test func statOfThisProcessIsConsistent() throws {
        let me = try #require(ProcessInfoReader.stat(pid: getpid()))
        #expect(me.pid == getpid())
        #expect(me.parentPID == getppid())
        #expect(me.pgid == getpgrp())
        #expect(me.residentBytes > 0)
        #expect(ProcessInfoReader.stat(pid: getpid())?.startTicks == me.startTicks)
        #expect(ProcessInfoReader.stat(pid: Int32.max - 1) == nil)
        #expect(ProcessInfoReader.allProcesses().contains { $0.pid == getpid() })
    }

    @Test func logScannerFindsANeedleAcrossReadsAndAfterTruncation() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/log"
        try "old run: READY\n".write(toFile: path, atomically: false, encoding: .utf8)
        let start = Int64(try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        var scanner = LogScanner(path: path, needle: "READY", offset: start)
        var found = scanner.scan()
        #expect(!found, "output of an earlier run does not count")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("booting RE".utf8))
        found = scanner.scan()
        #expect(!found)
        try handle.write(contentsOf: Data("ADY\n".utf8))
        found = scanner.scan()
        #expect(found, "found across two reads")

        var other = LogScanner(path: path, needle: "SERVING", offset: 0)
        found = other.scan()
        #expect(!found)
        truncate(path, 0)
        try handle.write(contentsOf: Data("x\n".utf8))
        try handle.write(contentsOf: Data("SERVING\n".utf8))
        found = other.scan()
        #expect(found, "a truncated file is read from its start")
    }

    @Test func rotationKeepsOneOlderFileAndRespectsTheCap() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/log"
        try String(repeating: "a", count: 100).write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try !LogRotation.rotateIfNeeded(path: path, limit: 100), "at the cap, not over it")
        try String(repeating: "b", count: 101).write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try LogRotation.rotateIfNeeded(path: path, limit: 100))
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == String(repeating: "b", count: 101))
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
        try String(repeating: "c", count: 150).write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try LogRotation.rotateIfNeeded(path: path, limit: 100))
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == String(repeating: "c", count: 150))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["log", "log.1"])
    }

    @Test func httpStatusLineParsing() {
        #expect(HTTPProbe.parseStatusLine(Array("HTTP/1.0 200 OK\r\n".utf8)) == 200)
        #expect(HTTPProbe.parseStatusLine(Array("HTTP/1.1 302 Found\r\n".utf8)) == 302)
        #expect(HTTPProbe.parseStatusLine(Array("HTTP/1.1 200".utf8)) == nil, "line not complete yet")
        #expect(HTTPProbe.parseStatusLine(Array("HTTP/1.1 200".utf8), complete: true) == 200)
        #expect(HTTPProbe.parseStatusLine(Array("SSH-2.0-OpenSSH\r\n".utf8)) == nil)
    }

    @Test func httpProbeOnAClosedPortFailsFast() async {
        let start = ContinuousClock.now
        #expect(await !HTTPProbe.check(port: freePort(), path: "/", timeout: .seconds(2)))
        #expect(ContinuousClock.now - start < .seconds(1))
    }
}
