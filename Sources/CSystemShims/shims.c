#define _GNU_SOURCE
#include <spawn.h>
#include <fcntl.h>
#include <unistd.h>
#include <malloc.h>
#include "CSystemShims.h"

extern char **environ;

const short flinklet_posix_spawn_setsid = POSIX_SPAWN_SETSID;

int flinklet_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

char *const *flinklet_environ(void) {
    return environ;
}

const char *flinklet_dirent_name(const struct dirent *entry) {
    return entry->d_name;
}

int flinklet_malloc_fixed_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int flinklet_malloc_trim(void) {
    return malloc_trim(0);
}
