#include "common/status.h"

extern "C" const char *pvec_errstr(int rc) {
    switch (rc) {
    case PVEC_OK: return "ok";
    case PVEC_ERROR: return "error";
    case PVEC_MISUSE: return "library misuse (NULL handle or pointer, bad struct_size or state)";
    case PVEC_NOTFOUND: return "not found";
    case PVEC_EXISTS: return "already exists";
    case PVEC_DIM: return "dimension mismatch";
    case PVEC_RANGE: return "value out of range";
    case PVEC_NOMEM: return "out of memory";
    case PVEC_IO: return "I/O error";
    case PVEC_CORRUPT: return "database file is damaged or not a database";
    case PVEC_BUSY: return "database is busy";
    case PVEC_READONLY: return "database is read-only";
    case PVEC_FORMAT:
        return "format not readable by this library: written by a newer pocketvec, or an older "
               "database opened read-only (open it read-write once to upgrade it)";
    case PVEC_INVALID: return "invalid value";
    case PVEC_UNSUPPORTED: return "not supported by this build";
    default: return "unknown status";
    }
}
