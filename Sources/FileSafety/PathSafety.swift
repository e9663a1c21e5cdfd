import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether another local user could change what is at a path: replace a jar the operator runs,
/// swap a checkpoint directory a job restores from, or plant files in one.
///
/// A path is safe when every directory on the way to it, and the thing itself, belongs to this
/// user or root, and none is writable by its group or others, except a directory with the
/// sticky bit (`/tmp`): there others may create entries but never rename or remove this user's.
/// A group that is this user's private group (named as the user, no other members: the "user
/// private groups" convention, where a umask of 002 makes directories 0775) counts as the user.
/// A symbolic link on the way is followed, and it must belong to this user or root too. This
/// is the rule of OpenSSH's `StrictModes` and of `sudo`'s path checks, applied to every
/// component: when it holds, no other user (root aside) can change the path later either, so the
/// answer does not go stale while the path stays as it is.
///
/// A path that does not exist yet is judged by its nearest existing ancestor, as the directory
/// its missing parts will be created in; in a sticky directory someone else may create them
/// first, which a later check sees (`ownedByAnotherUser`).
public enum PathSafety {
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// `path` belongs to the user `uid`, neither this user nor root.
            case ownedByAnotherUser(uid: UInt32)
            /// `path` may be written by its group or everyone (`mode`), with no sticky bit to
            /// protect what is in it.
            case writableByOthers(mode: UInt32)
            /// `path` could not be inspected (`errno`; `ELOOP` for too many symbolic links): who
            /// may change it is unknown, which is never taken as "no one".
            case uninspectable(errno: Int32)
        }

        /// The component that makes the path unsafe: the path itself or a directory above it.
        public var path: String
        public var kind: Kind

        public init(path: String, kind: Kind) {
            self.path = path
            self.kind = kind
        }

        public var description: String {
            switch kind {
            case .ownedByAnotherUser(let uid):
                "\(path) belongs to uid \(uid), not to this user (uid \(geteuid())) or root"
            case .writableByOthers(let mode):
                "\(path) is writable by \(mode & 0o002 != 0 ? "everyone" : "its group") (mode \(String(mode & 0o7777, radix: 8)))"
            case .uninspectable(let errno):
                "\(path) cannot be inspected (\(String(cString: strerror(errno))))"
            }
        }

        /// The command that fixes it, when one does (`chmod go-w`); nil for another user's file.
        public var fix: String? {
            switch kind {
            case .ownedByAnotherUser, .uninspectable: nil
            case .writableByOthers: "chmod go-w \(Self.shellQuoted(path))"
            }
        }

        static func shellQuoted(_ path: String) -> String {
            let plain = path.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "/._-+,:@%".unicodeScalars.contains($0) }
            return plain && !path.isEmpty ? path : "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
    }

    /// The first reason another local user could change what is at `path` (absolute, or
    /// relative to the working directory), from `/` down; nil when none can.
    public static func problem(_ path: String) -> Problem? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var links = 0
        return check(components(absolute), links: &links)
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    /// Walks `parts` from `/`, checking each existing component with `lstat`; a symbolic link's
    /// target is checked the same way in its place (at most 40 links, as the kernel follows).
    private static func check(_ parts: [String], links: inout Int) -> Problem? {
        var resolved: [String] = []
        if let problem = judge("/", isLast: parts.isEmpty) { return problem }
        var index = 0
        while index < parts.count {
            let part = parts[index]
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                index += 1
                continue
            }
            let current = "/" + (resolved + [part]).joined(separator: "/")
            var info = stat()
            guard lstat(current, &info) == 0 else {
                // Missing: the ancestors already checked decide, as for a path to be created.
                // Any other failure leaves the answer unknown.
                let error = errno
                return error == ENOENT || error == ENOTDIR ? nil : Problem(path: current, kind: .uninspectable(errno: error))
            }
            let isLast = index == parts.count - 1
            if info.st_mode & S_IFMT == S_IFLNK {
                if let problem = owner(current, info) { return problem }
                links += 1
                guard links <= 40 else { return Problem(path: current, kind: .uninspectable(errno: ELOOP)) }
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlink(current, &buffer, buffer.count - 1)
                guard length >= 0 else { return Problem(path: current, kind: .uninspectable(errno: errno)) }
                let target = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let base = target.hasPrefix("/") ? [] : resolved
                let rest = Array(parts[(index + 1)...])
                let restarted = base + components(target) + rest
                // The link's target, then the rest of the path, from the top again.
                return check(restarted, links: &links)
            }
            if let problem = judge(current, info: info, isLast: isLast) { return problem }
            resolved.append(part)
            index += 1
        }
        return nil
    }

    private static func judge(_ path: String, isLast: Bool) -> Problem? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return Problem(path: path, kind: .uninspectable(errno: errno)) }
        return judge(path, info: info, isLast: isLast)
    }

    private static func judge(_ path: String, info: stat, isLast: Bool) -> Problem? {
        if let problem = owner(path, info) { return problem }
        let mode = UInt32(info.st_mode)
        let sticky = mode & UInt32(S_ISVTX) != 0 && mode & UInt32(S_IFMT) == UInt32(S_IFDIR)
        // Writable by its group only, and that group is this user's own (user private groups,
        // where a umask of 002 makes directories 0775): no one else can write it either.
        let othersMayWrite = mode & 0o002 != 0 || (mode & 0o020 != 0 && !isPrivateGroup(info.st_gid))
        if othersMayWrite && (isLast || !sticky) {
            return Problem(path: path, kind: .writableByOthers(mode: mode))
        }
        return nil
    }

    /// Whether `gid` is this user's private group, as Debian's OpenSSH reads one: the user's
    /// primary group, named as the user, with no other members listed.
    static func isPrivateGroup(_ gid: gid_t) -> Bool {
        guard gid == getegid() else { return false }
        var user = passwd(), group = group()
        var userResult: UnsafeMutablePointer<passwd>?, groupResult: UnsafeMutablePointer<group>?
        var userBuffer = [CChar](repeating: 0, count: 4096), groupBuffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(geteuid(), &user, &userBuffer, userBuffer.count, &userResult) == 0, userResult != nil,
              getgrgid_r(gid, &group, &groupBuffer, groupBuffer.count, &groupResult) == 0, groupResult != nil,
              let userName = user.pw_name.map({ String(cString: $0) }), let groupName = group.gr_name.map({ String(cString: $0) }),
              userName == groupName else { return false }
        var member = group.gr_mem
        while let name = member?.pointee {
            if String(cString: name) != userName { return false }
            member = member?.advanced(by: 1)
        }
        return true
    }

    private static func owner(_ path: String, _ info: stat) -> Problem? {
        info.st_uid == 0 || info.st_uid == geteuid() ? nil : Problem(path: path, kind: .ownedByAnotherUser(uid: info.st_uid))
    }
}
