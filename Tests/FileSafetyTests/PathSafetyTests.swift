@testable import FileSafety
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Another local user is played by `nobody` (uid 65534): the tests `chown` to it, so they need
/// root or CAP_CHOWN (as CI runs them); without it those that need it are skipped.
@Suite struct PathSafetyTests {
    static let nobody: uid_t = 65534
    static var canChown: Bool { geteuid() == 0 }

    let root: String

    init() throws {
        // Under /tmp (sticky, world-writable): a directory of this user's, mode 0700.
        root = "/tmp/flinklet-safety-\(UUID().uuidString.prefix(8))"
        #expect(mkdir(root, 0o700) == 0)
    }

    func make(_ relative: String, mode: mode_t = 0o700, file: Bool = false) -> String {
        let path = root + "/" + relative
        if file {
            #expect(FileManager.default.createFile(atPath: path, contents: Data("jar".utf8)))
        } else {
            #expect(mkdir(path, 0o700) == 0)
        }
        #expect(chmod(path, mode) == 0)
        return path
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }

    @Test func aFileInPrivateDirectoriesUnderStickyTmpIsSafe() {
        defer { cleanUp() }
        let jar = make("job.jar", mode: 0o644, file: true)
        #expect(PathSafety.problem(jar) == nil)
        #expect(PathSafety.problem(root + "/missing/checkpoints") == nil, "to be created in a private directory")
        #expect(PathSafety.problem("/tmp/flinklet-never-made-\(UUID().uuidString)") == nil, "its nearest ancestor is sticky /tmp")
    }

    @Test func aDirectoryOnTheWayWritableByOthersWithoutTheStickyBitIsNot() {
        defer { cleanUp() }
        let shared = make("shared", mode: 0o777)
        let jar = shared + "/job.jar"
        #expect(FileManager.default.createFile(atPath: jar, contents: Data()))
        #expect(chmod(jar, 0o644) == 0)
        let problem = PathSafety.problem(jar)
        #expect(problem?.path == shared)
        #expect(problem?.description == "\(shared) is writable by everyone (mode 777)")
        #expect(problem?.fix == "chmod go-w \(shared)")
        #expect(PathSafety.problem(shared + "/checkpoints") == PathSafety.Problem(path: shared, kind: .writableByOthers(mode: 0o40777)),
                "a directory to be created in it")
        _ = chmod(shared, 0o1777)
        #expect(PathSafety.problem(jar) == nil, "sticky: others cannot rename or remove this user's file")
        _ = chmod(shared, 0o770)
        if Self.canChown {
            // A group of others (nogroup), not this user's private one.
            #expect(chown(shared, geteuid(), 65534) == 0)
            #expect(PathSafety.problem(jar)?.description == "\(shared) is writable by its group (mode 770)")
        }
    }

    /// User private groups: a directory 0775 with this user's own group (named as the user, no
    /// other member) is writable by no one else. Root's group `root` is such a group here.
    @Test(.enabled(if: canChown)) func writableByThisUsersPrivateGroupIsSafe() {
        defer { cleanUp() }
        let mine = make("mine", mode: 0o775)
        #expect(chown(mine, geteuid(), getegid()) == 0)
        let jar = mine + "/job.jar"
        #expect(FileManager.default.createFile(atPath: jar, contents: Data()))
        #expect(chmod(jar, 0o644) == 0)
        if PathSafety.isPrivateGroup(getegid()) {
            #expect(PathSafety.problem(jar) == nil)
        }
        #expect(!PathSafety.isPrivateGroup(65534), "not this user's group")
    }

    @Test func theFileItselfWritableByOthersIsNot() {
        defer { cleanUp() }
        let jar = make("job.jar", mode: 0o666, file: true)
        #expect(PathSafety.problem(jar)?.path == jar)
        let sticky = make("sticky", mode: 0o1777)
        #expect(PathSafety.problem(sticky)?.path == sticky, "the last component may not be writable by others, sticky or not")
    }

    @Test(.enabled(if: canChown)) func anotherUsersFileOrDirectoryIsNot() {
        defer { cleanUp() }
        let theirs = make("theirs", mode: 0o755)
        let jar = make("theirs/job.jar", mode: 0o644, file: true)
        #expect(chown(jar, Self.nobody, Self.nobody) == 0)
        #expect(PathSafety.problem(jar) == PathSafety.Problem(path: jar, kind: .ownedByAnotherUser(uid: Self.nobody)))
        #expect(PathSafety.problem(jar)?.fix == nil)
        #expect(chown(jar, 0, 0) == 0 && chown(theirs, Self.nobody, Self.nobody) == 0)
        #expect(PathSafety.problem(jar)?.path == theirs, "a directory above, too: they may rename the file away")
    }

    @Test(.enabled(if: canChown)) func aSymbolicLinkIsFollowedAndMustNotBeAnotherUsers() {
        defer { cleanUp() }
        let jar = make("job.jar", mode: 0o644, file: true)
        let link = root + "/link.jar"
        #expect(symlink(jar, link) == 0)
        #expect(PathSafety.problem(link) == nil)
        let shared = make("shared", mode: 0o777)
        #expect(symlink(shared + "/elsewhere.jar", root + "/bad.jar") == 0)
        #expect(PathSafety.problem(root + "/bad.jar")?.path == shared, "the link's target is judged")
        #expect(lchown(link, Self.nobody, Self.nobody) == 0)
        #expect(PathSafety.problem(link) == PathSafety.Problem(path: link, kind: .ownedByAnotherUser(uid: Self.nobody)),
                "they could point it elsewhere")
        let relative = root + "/relative.jar"
        #expect(symlink("job.jar", relative) == 0)
        #expect(PathSafety.problem(relative) == nil)
    }
}
