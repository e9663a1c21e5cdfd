#define _GNU_SOURCE
#include <spawn.h>
#include "CSystemShims.h"

const short flinklet_posix_spawn_setsid = POSIX_SPAWN_SETSID;
