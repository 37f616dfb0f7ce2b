// Compiled only: pocketvec.h must be valid, warning-free C++ as well as C.
#include "pocketvec/pocketvec.h"

static_assert(PVEC_OK == 0, "pinned");
