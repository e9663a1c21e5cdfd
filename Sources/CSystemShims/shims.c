#define _GNU_SOURCE
#include <spawn.h>
#include <fcntl.h>
#include <unistd.h>
#include "CSystemShims.h"

const short flinklet_posix_spawn_setsid = POSIX_SPAWN_SETSID;

int flinklet_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
