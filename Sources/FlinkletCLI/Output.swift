import Foundation

/// Standard error as a `TextOutputStream`, for diagnostics and errors.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}

/// Counts with the noun's plural when needed: "1 error", "2 errors".
func counted(_ n: Int, _ noun: String) -> String {
    "\(n) \(noun)\(n == 1 ? "" : "s")"
}
