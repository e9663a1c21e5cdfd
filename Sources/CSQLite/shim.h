#ifndef FLINKLET_CSQLITE_SHIM_H
#define FLINKLET_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
