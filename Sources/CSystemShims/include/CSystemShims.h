#ifndef FLINKLET_CSYSTEMSHIMS_H
#define FLINKLET_CSYSTEMSHIMS_H

// Linux facilities Swift's Glibc module does not expose directly, and macro constants Swift
// cannot import. Thin wrappers only: no policy lives here.

#include <sys/types.h>
#include <sys/inotify.h>
#include <spawn.h>
#include <dirent.h>

/// POSIX_SPAWN_SETSID (a GNU extension, glibc >= 2.26): the child starts a new session and so a
/// new process group whose id is its pid.
extern const short flinklet_posix_spawn_setsid;

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a process spawned by
/// another thread at the same moment can never inherit them.
int flinklet_pipe_cloexec(int fds[2]);

/// This process's environment (`environ`), which Swift's Glibc module does not export: what a
/// child spawned with "this process's environment" gets, read at the moment of the spawn.
char *const *flinklet_environ(void);

/// The name of a directory entry, read in place. Never copy `entry.pointee.d_name` in Swift:
/// that copies all 256 bytes of the declared array, while readdir(3) returns records sized to
/// the name, so the copy can read past the end of glibc's buffer (Foundation's Process.run
/// crashed with SIGSEGV in memcpy that way).
const char *flinklet_dirent_name(const struct dirent *entry);

/// mallopt(M_MMAP_THRESHOLD, bytes): blocks of at least `bytes` are mmap'd and unmapped when
/// freed. Setting it also turns off glibc's dynamic threshold, which after the first large
/// free rises to that block's size, so later large blocks (a /metrics text of 300 KiB, say)
/// come from the arenas and stay resident there once freed. Returns mallopt's result (1: done).
int flinklet_malloc_fixed_mmap_threshold(int bytes);

/// malloc_trim(0): returns every whole free page of every arena to the system (not only the
/// top of the heap, as glibc's own trimming does). Returns 1 when memory was released.
int flinklet_malloc_trim(void);

#endif
