/// A line diff (Myers' O((N+M)·D) algorithm) and its unified rendering, as `diff -u` prints it.
///
/// Guarantees: applying the edits to `old` gives `new`; the edit script is a shortest one
/// (fewest inserted plus deleted lines); equal inputs give no hunks.
enum LineDiff {
    enum Edit: Equatable {
        case same(String)
        case delete(String)
        case insert(String)
    }

    /// The lines of a text, without the empty string after a final newline.
    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The shortest edit script turning `old` into `new`, in order. Deletions come before
    /// insertions where both are possible, as in `diff`.
    static func edits(_ old: [String], _ new: [String]) -> [Edit] {
        let n = old.count, m = new.count
        let max = n + m
        guard max > 0 else { return [] }
        let offset = max
        var v = [Int](repeating: 0, count: 2 * max + 2)
        // One copy of `v` per step `d`, to walk the path back.
        var trace: [[Int]] = []
        search: for d in 0...max {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]  // down: an insertion
                } else {
                    x = v[offset + k - 1] + 1  // right: a deletion
                }
                var y = x - k
                while x < n, y < m, old[x] == new[y] {
                    x += 1
                    y += 1
                }
                v[offset + k] = x
                if x >= n, y >= m { break search }
            }
        }
        // Walk back from (n, m) through the recorded frontiers.
        var edits: [Edit] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let v = trace[d]
            let k = x - y
            let previousK = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? k + 1 : k - 1
            let previousX = d == 0 ? 0 : v[offset + previousK]
            let previousY = previousX - previousK
            while x > previousX, y > previousY {
                x -= 1
                y -= 1
                edits.append(.same(old[x]))
            }
            if d > 0 {
                if x == previousX {
                    y -= 1
                    edits.append(.insert(new[y]))
                } else {
                    x -= 1
                    edits.append(.delete(old[x]))
                }
            }
        }
        return edits.reversed()
    }

    /// The hunks of a unified diff (`@@ -a,b +c,d @@` and its lines), with `context` unchanged
    /// lines around each change; empty when the texts are equal.
    static func unifiedHunks(_ old: [String], _ new: [String], context: Int = 3) -> [String] {
        let edits = edits(old, new)
        guard edits.contains(where: { if case .same = $0 { false } else { true } }) else { return [] }
        // Line numbers (0-based) in old and new before each edit.
        var oldLine = [Int](), newLine = [Int]()
        var a = 0, b = 0
        for edit in edits {
            oldLine.append(a)
            newLine.append(b)
            switch edit {
            case .same: a += 1; b += 1
            case .delete: a += 1
            case .insert: b += 1
            }
        }
        let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
        // Group changes whose context windows touch.
        var groups: [ClosedRange<Int>] = []
        for index in changed {
            let start = Swift.max(0, index - context), end = Swift.min(edits.count - 1, index + context)
            if let last = groups.last, start <= last.upperBound + 1 {
                groups[groups.count - 1] = last.lowerBound...Swift.max(last.upperBound, end)
            } else {
                groups.append(start...end)
            }
        }
        var lines: [String] = []
        for group in groups {
            var oldCount = 0, newCount = 0
            var body: [String] = []
            for edit in edits[group] {
                switch edit {
                case .same(let line): body.append(" " + line); oldCount += 1; newCount += 1
                case .delete(let line): body.append("-" + line); oldCount += 1
                case .insert(let line): body.append("+" + line); newCount += 1
                }
            }
            lines.append("@@ -\(range(oldLine[group.lowerBound], oldCount)) +\(range(newLine[group.lowerBound], newCount)) @@")
            lines += body
        }
        return lines
    }

    /// GNU diff's hunk range: `start,count`, `start` alone for one line, `start-1,0` for none.
    private static func range(_ start: Int, _ count: Int) -> String {
        switch count {
        case 0: "\(start),0"
        case 1: "\(start + 1)"
        default: "\(start + 1),\(count)"
        }
    }
}
