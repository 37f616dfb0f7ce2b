// Upgrades of older file formats, each inside the caller's write transaction, so a file is
// upgraded completely or not at all (docs/format.md, "pvec_meta").
#pragma once

#include <sqlite3.h>

#include "common/status.h"

namespace pocketvec::store {

// Format 1 -> 2: a uid and a version per collection, a versions table per collection.
Status upgrade_from_1(sqlite3 *conn);
// Format 2 -> 3: a checksum on every catalog row, items row, chunk slot, raw vector and model row.
// The chunk blobs gain their sums section. A format 2 model row whose FNV checksum fails, or a
// chunk blob of the wrong size, fails the upgrade with PVEC_CORRUPT (nothing is sealed unchecked).
Status upgrade_from_2(sqlite3 *conn);
// Format 3 -> 4: only the version. Format 4 adds per-slot code errors to the chunks of collections
// trained from then on (kFlagSlotErrors); existing collections keep their layout and flags.
Status upgrade_from_3(sqlite3 *conn);
// Format 4 -> 5: the code errors of chunk slots shrink from float32 to bfloat16 rounded up (every
// chunk of a collection with kFlagSlotErrors is rewritten, its slot sums anew), and sum columns
// are written as signed 32-bit integers from then on (rows written before keep their value:
// both read back as the same sum). A collection whose catalog row is damaged is left as it is
// (still refused when opened).
Status upgrade_from_4(sqlite3 *conn);
// Format 5 -> 6: only the version. Format 6 splits the raw rows of collections created from then
// on into parts (kFlagRawParts); existing collections keep one raw row per chunk.
Status upgrade_from_5(sqlite3 *conn);

}  // namespace pocketvec::store
