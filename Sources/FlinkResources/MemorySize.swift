/// An amount of memory in bytes, read from either dialect a manifest may use.
///
/// Parsing follows the Apache Flink Kubernetes Operator (`parseResourceMemoryString`) so an
/// upstream manifest means the same here:
/// 1. Flink's `MemorySize` syntax first: an integer and an optional, case-insensitive unit —
///    `b`/`bytes`, `k`/`kb`/`kibibytes`, `m`/`mb`/`mebibytes`, `g`/`gb`/`gibibytes`,
///    `t`/`tb`/`tebibytes` — all powers of 1024. So `2048m` is 2 GiB and `2G` is also 2 GiB.
/// 2. Otherwise a Kubernetes quantity: a decimal number with a binary suffix (`Ki`, `Mi`, `Gi`,
///    `Ti`, `Pi`, `Ei`), a decimal suffix (`k`, `M`, `G`, `T`, `P`, `E`) or an exponent (`1e9`);
///    `GiB`-style spellings are accepted as upstream accepts them. Fractions round up to a byte.
public struct MemorySize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) { self.bytes = bytes }

    public static func mebibytes(_ n: Int64) -> MemorySize { MemorySize(bytes: n * 1024 * 1024) }

    public static func < (lhs: MemorySize, rhs: MemorySize) -> Bool { lhs.bytes < rhs.bytes }

    /// The shortest exact Flink spelling: `1g`, `1536m`, `100k`, `1000b`.
    public var description: String {
        for (unit, factor) in [("t", Int64(1) << 40), ("g", Int64(1) << 30), ("m", Int64(1) << 20), ("k", Int64(1) << 10)]
        where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)b"
    }

    public enum ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        case empty
        case negative
        case overflow
        case notAQuantity

        public var description: String {
            switch self {
            case .empty: "must not be empty"
            case .negative: "must not be negative"
            case .overflow: "is too large: must be less than 8 EiB"
            case .notAQuantity: "must be a memory size such as \"2048m\", \"2g\", \"1536Mi\" or \"2Gi\""
            }
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> MemorySize {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.hasPrefix("-") { throw .negative }
        switch parseFlink(trimmed) {
        case .success(let size): return size
        case .failure(.overflow): throw .overflow
        case .failure: break
        }
        return try parseKubernetes(trimmed)
    }

    /// Flink's `MemorySize.parse`: digits, optional whitespace, optional unit.
    static func parseFlink(_ text: String) -> Result<MemorySize, ParseError> {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return .failure(.notAQuantity) }
        let unit = text.dropFirst(digits.count).trimmingWhitespace.lowercased()
        let multiplier: Int64
        switch unit {
        case "", "b", "bytes": multiplier = 1
        case "k", "kb", "kibibytes": multiplier = 1 << 10
        case "m", "mb", "mebibytes": multiplier = 1 << 20
        case "g", "gb", "gibibytes": multiplier = 1 << 30
        case "t", "tb", "tebibytes": multiplier = 1 << 40
        default: return .failure(.notAQuantity)
        }
        guard let value = Int64(digits) else { return .failure(.overflow) }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? .failure(.overflow) : .success(MemorySize(bytes: product))
    }

    /// A Kubernetes `resource.Quantity`, evaluated exactly with decimal arithmetic on integers.
    static func parseKubernetes(_ original: String) throws(ParseError) -> MemorySize {
        var text = original.filter { !$0.isWhitespace }
        if text.hasPrefix("+") { text.removeFirst() }
        // Upstream upper-cases and strips a trailing B, so "2GiB", "2gi" and "2GB"-like forms work.
        if text.count > 2, text.hasSuffix("iB") || text.hasSuffix("ib") { text.removeLast() }
        let numberEnd = text.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? text.endIndex
        let number = text[..<numberEnd]
        let suffix = String(text[numberEnd...])
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, parts.contains(where: { !$0.isEmpty }) else { throw .notAQuantity }
        let integerDigits = String(parts[0])
        let fractionDigits = parts.count == 2 ? String(parts[1]) : ""

        // value = mantissa × base^exponent × 10^(-fractionDigits.count)
        var binaryShift: Int64 = 0
        var decimalExponent: Int = 0
        switch suffix {
        case "": break
        case "Ki", "KI", "ki": binaryShift = 10
        case "Mi", "MI", "mi": binaryShift = 20
        case "Gi", "GI", "gi": binaryShift = 30
        case "Ti", "TI", "ti": binaryShift = 40
        case "Pi", "PI", "pi": binaryShift = 50
        case "Ei", "EI", "ei": binaryShift = 60
        case "k", "K": decimalExponent = 3
        case "M": decimalExponent = 6
        case "G": decimalExponent = 9
        case "T": decimalExponent = 12
        case "P": decimalExponent = 15
        case "E": decimalExponent = 18
        default:
            guard let first = suffix.first, first == "e" || first == "E",
                  let exponent = Int(suffix.dropFirst()), (-30...30).contains(exponent) else { throw .notAQuantity }
            decimalExponent = exponent
        }
        // Work in a wide decimal: digits as a string, then scale.
        let allDigits = (integerDigits + fractionDigits).drop { $0 == "0" }
        var scale = decimalExponent - fractionDigits.count
        // More significant digits than 128 bits hold (past 3.4 × 10³⁸): far past any size there is.
        guard var mantissa = allDigits.isEmpty ? 0 : UInt128(String(allDigits)) else { throw .overflow }
        if mantissa == 0 { return MemorySize(bytes: 0) }
        let limit = UInt128(Int64.max)
        if binaryShift > 0 {
            guard mantissa.leadingZeroBitCount > binaryShift else { throw .overflow }
            mantissa <<= binaryShift
        }
        // Every step is checked: a product past 128 bits is past 8 EiB, a divisor past the
        // mantissa leaves less than one byte (rounded up to one).
        while scale > 0 {
            let (product, overflow) = mantissa.multipliedReportingOverflow(by: 10)
            guard !overflow, product <= limit << 64 else { throw .overflow }
            mantissa = product
            scale -= 1
        }
        var divisor: UInt128 = 1
        while scale < 0 {
            let (product, overflow) = divisor.multipliedReportingOverflow(by: 10)
            if overflow || product > mantissa { return MemorySize(bytes: 1) }
            divisor = product
            scale += 1
        }
        let (quotient, remainder) = mantissa.quotientAndRemainder(dividingBy: divisor)
        let bytes = quotient + (remainder > 0 ? 1 : 0)
        guard bytes <= limit else { throw .overflow }
        return MemorySize(bytes: Int64(bytes))
    }
}

extension MemorySize {
    /// How Kubernetes reads `text` as a `resource.Quantity` of bytes (`768m` is 0.768 bytes,
    /// rounded up to 1; `1G` is 10⁹ bytes), or nil when the API server would reject it (`1g`).
    public static func kubernetesBytes(_ text: String) -> MemorySize? {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty, !trimmed.hasPrefix("-"), !trimmed.hasSuffix("B"), !trimmed.hasSuffix("b") else { return nil }
        if trimmed.hasSuffix("m") {
            // Milli: a fraction of a byte per unit; any positive amount is at least one byte.
            guard let units = Int64(trimmed.dropLast()) else { return nil }
            return MemorySize(bytes: units / 1000 + (units % 1000 > 0 ? 1 : 0))
        }
        return try? parseKubernetes(trimmed)
    }

    /// How Flink reads `text` (`MemorySize.parse`: `768m` is 768 MiB), or nil when it is not in
    /// Flink's syntax.
    public static func flinkBytes(_ text: String) -> MemorySize? {
        try? parseFlink(text.trimmingWhitespace).get()
    }

    /// The shortest exact Kubernetes spelling in binary units: `768Mi`, `2Gi`, `1000` (bytes).
    public var kubernetesDescription: String {
        for (unit, factor) in [("Ti", Int64(1) << 40), ("Gi", Int64(1) << 30), ("Mi", Int64(1) << 20), ("Ki", Int64(1) << 10)]
        where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)"
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return String(self[start..<end])
    }
}
