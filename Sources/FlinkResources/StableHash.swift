import Foundation

/// A content hash that is the same for the same value in every process and every run: FNV-1a
/// (64 bit) over the value's JSON with sorted keys. Used to tell whether a spec changed, not for
/// security.
public enum StableHash {
    public static func of<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "unencodable" }
        return of(bytes: data)
    }

    public static func of<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension FlinkResource {
    /// Hash of the spec alone: a change bumps `metadata.generation`, as in Kubernetes.
    public var specHash: String {
        switch self {
        case .deployment(let d): StableHash.of(d.spec)
        case .sessionJob(let j): StableHash.of(j.spec)
        case .snapshot(let s): StableHash.of(s.spec)
        }
    }

    /// Hash of everything a manifest says (metadata and spec): any change is stored.
    public var contentHash: String {
        switch self {
        case .deployment(let d): StableHash.of(d)
        case .sessionJob(let j): StableHash.of(j)
        case .snapshot(let s): StableHash.of(s)
        }
    }
}
