import Testing
@testable import FlinkResources

private let Ki: Int64 = 1 << 10, Mi: Int64 = 1 << 20, Gi: Int64 = 1 << 30

private let flinkForms: [(String, Int64)] = [
    ("2048m", 2048 * Mi), ("2g", 2 * Gi), ("1024mb", 1024 * Mi), ("512 kb", 512 * Ki), ("1073741824", Gi),
    ("100b", 100), ("7 bytes", 7), ("3 gibibytes", 3 * Gi), ("1t", 1 << 40), ("1k", 1024), ("2G", 2 * Gi), ("500M", 500 * Mi),
    (" 768m ", 768 * Mi), ("0", 0),
]

private let kubernetesForms: [(String, Int64)] = [
    ("2Gi", 2 * Gi), ("1536Mi", 1536 * Mi), ("512Ki", 512 * Ki), ("1Ti", 1 << 40), ("1e9", 1_000_000_000),
    ("1E9", 1_000_000_000), ("1.5Gi", 1_610_612_736), ("0.5G", 500_000_000), ("2.5M", 2_500_000), ("1.5k", 1500),
    ("2GiB", 2 * Gi), ("2gi", 2 * Gi), ("+1Gi", Gi), ("1.5", 2), ("12e-1", 2),
]

private let garbageForms: [(String, MemorySize.ParseError)] = [
    ("2 gigs", .notAQuantity), ("-1g", .negative), ("-1Gi", .negative), ("", .empty), ("   ", .empty),
    ("g", .notAQuantity), ("1.2.3Gi", .notAQuantity), ("1Gii", .notAQuantity), ("1e", .notAQuantity), ("0x10m", .notAQuantity),
    ("99999999999999999999", .overflow), ("9999999999999t", .overflow), ("16Ei", .overflow), ("1e30", .overflow),
    ("8589934592g", .overflow),
]

@Suite struct MemorySizeTests {

    @Test("Flink syntax: integer and case-insensitive unit, powers of 1024", arguments: flinkForms)
    func flinkSyntax(text: String, bytes: Int64) throws {
        #expect(try MemorySize.parse(text).bytes == bytes)
    }

    @Test("Kubernetes quantities: binary and decimal suffixes, exponents, fractions", arguments: kubernetesForms)
    func kubernetesSyntax(text: String, bytes: Int64) throws {
        #expect(try MemorySize.parse(text).bytes == bytes)
    }

    @Test("Garbage is an error that says why", arguments: garbageForms)
    func garbage(text: String, error: MemorySize.ParseError) {
        #expect(throws: error) { try MemorySize.parse(text) }
    }

    @Test func descriptionIsTheShortestExactFlinkSpelling() {
        #expect(MemorySize(bytes: Gi).description == "1g")
        #expect(MemorySize(bytes: 1536 * Mi).description == "1536m")
        #expect(MemorySize(bytes: 1000).description == "1000b")
        #expect(MemorySize(bytes: 0).description == "0b")
    }
}

@Suite struct FlinkMemoryModelTests {
    @Test func taskManagerOf1024mMatchesFlinksDerivation() throws {
        // Flink 2.x defaults: metaspace 256m, overhead max(10%, 192m), managed 40%, network max(10%, 64m).
        let tm = try #require(try FlinkMemoryModel.taskManager(process: 1024 * Mi, configuration: [:])?.get())
        #expect(tm.metaspace == 256 * Mi)
        #expect(tm.overhead == 192 * Mi)
        #expect(tm.managed == Int64(Double(576 * Mi) * 0.4))
        #expect(tm.network == 64 * Mi)
        #expect(tm.frameworkHeap + tm.taskHeap + tm.frameworkOffHeap + tm.managed + tm.network + tm.metaspace + tm.overhead == 1024 * Mi)
    }

    @Test func taskManagerBelowTheMinimumIsRefusedWithTheSmallestSizeThatWorks() throws {
        guard case .failure(let problem)? = FlinkMemoryModel.taskManager(process: 960 * Mi, configuration: [:]) else {
            Issue.record("960m should be too small")
            return
        }
        #expect(problem.message.hasSuffix("use at least 982m"))
        #expect(throws: Never.self) { try FlinkMemoryModel.taskManager(process: 982 * Mi, configuration: [:])?.get() }
    }

    @Test func configurationChangesTheDerivation() {
        // With less managed memory a smaller TaskManager fits.
        let small: FlinkConfiguration = ["taskmanager.memory.managed.size": "16m"]
        #expect(throws: Never.self) { try FlinkMemoryModel.taskManager(process: 800 * Mi, configuration: small)?.get() }
        // Setting the heap explicitly hands the judgement to Flink.
        #expect(FlinkMemoryModel.taskManager(process: 100 * Mi, configuration: ["taskmanager.memory.task.heap.size": "64m"]) == nil)
        // A malformed value is reported, not guessed.
        guard case .failure(let problem)? = FlinkMemoryModel.taskManager(process: 2048 * Mi, configuration: ["taskmanager.memory.managed.fraction": "lots"]) else {
            Issue.record("expected failure")
            return
        }
        #expect(problem.message.contains("taskmanager.memory.managed.fraction"))
    }

    @Test func jobManagerNeedsAHeapOfAtLeast128m() throws {
        let jm = try #require(try FlinkMemoryModel.jobManager(process: 768 * Mi, configuration: [:])?.get())
        #expect(jm.heap == 192 * Mi)
        guard case .failure(let problem)? = FlinkMemoryModel.jobManager(process: 640 * Mi, configuration: [:]) else {
            Issue.record("640m should be too small")
            return
        }
        #expect(problem.message.contains("use at least 704m"))
    }
}

/// Inputs that trapped or read wrong before (hack/fuzz.sh quantity and a reading of the code it
/// led to): each must now give an answer, the right one.
@Suite struct MemorySizeFuzzRegressionTests {
    @Test("A fraction finer than 10⁻³⁸ rounds up to one byte (its divisor overflowed 128 bits: trap)")
    func tinyFractionIsOneByte() throws {
        #expect(try MemorySize.parse(".0000000000000002222222222222222222222222202").bytes == 1)
        #expect(try MemorySize.parse("0.\(String(repeating: "0", count: 60))1").bytes == 1)
    }

    @Test("A 39-digit mantissa scaled up is too large (its product overflowed 128 bits: trap)")
    func hugeMantissaTimesTenIsOverflow() {
        #expect(throws: MemorySize.ParseError.overflow) { try MemorySize.parse("170141183460469231731687303715884105727e1") }
        #expect(throws: MemorySize.ParseError.overflow) { try MemorySize.parse("170141183460469231731687303715884105727Ei") }
    }

    @Test("More significant digits than 128 bits hold are too large (read as 0 bytes before)")
    func fortyDigitsAreOverflow() {
        #expect(throws: MemorySize.ParseError.overflow) { try MemorySize.parse("1234567890123456789012345678901234567890") }
        #expect(throws: MemorySize.ParseError.overflow) { try MemorySize.parse("999999999999999999999999999999999999999.5") }
    }

    @Test("Kubernetes milli-bytes at Int64.max round up without overflow (trap before)")
    func milliBytesAtTheLimit() {
        #expect(MemorySize.kubernetesBytes("9223372036854775807m") == MemorySize(bytes: 9_223_372_036_854_776))
        #expect(MemorySize.kubernetesBytes("1m") == MemorySize(bytes: 1))
        #expect(MemorySize.kubernetesBytes("1000m") == MemorySize(bytes: 1))
        #expect(MemorySize.kubernetesBytes("1001m") == MemorySize(bytes: 2))
    }
}
