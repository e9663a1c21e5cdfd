#ifndef FLINKLET_CLIBYAML_SHIM_H
#define FLINKLET_CLIBYAML_SHIM_H
#include <yaml.h>
#endif
