// The check pvec_add, pvec_upsert and their batch forms apply to item metadata. A free function
// over the caller's statements rather than a Collection member, so that
// tests/fuzz/fuzz_meta_json.cpp can drive it on a connection of its own.
#pragma once

#include <sqlite3.h>

#include <cstddef>

#include "common/status.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

constexpr std::size_t kMaxMetaBytes = 1u << 20;

// NULL (no metadata) passes. Otherwise the NUL-terminated text must be at most kMaxMetaBytes
// (else PVEC_RANGE, found without reading past kMaxMetaBytes + 1) and JSON that json_valid()
// accepts (else PVEC_INVALID); an SQLite failure (PVEC_NOMEM, ...) is returned as such.
// `valid` holds "SELECT json_valid(?1)" prepared on `conn`; `check` is prepared here on first
// need, as "SELECT json(?1)", to tell bad text from a json_valid() that ran out of memory.
Status check_meta_json(sqlite3 *conn, Stmt &valid, Stmt &check, const char *json);

}  // namespace pocketvec::store
