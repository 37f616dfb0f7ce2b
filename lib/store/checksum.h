// Checksums of everything pocketvec stores (format 3, docs/format.md "Checksums"): one 32-bit
// sum per chunk slot, raw vector, items row, catalog row and model row, each keyed by the
// collection's uid and the record's place, so a record copied to another place, another
// collection or another file fails its check as surely as a flipped byte.
//
// A sum is the low 32 bits of XXH3-64 (libxxhash) over the record's bytes, seeded by the XXH3-64
// of (uid, kind, key, header); a sum of 0 is stored as 1, so a live record never has an all-zero
// sum and a free chunk slot (all zero bytes) cannot pass as a live one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pocketvec::store {

struct CollectionMeta;

namespace checksum {

// Chunk `chunk`, slot `slot`: id (int64), norm (float32) and, in chunks that carry one, the slot's
// err as stored (bfloat16 bits, store/chunk_format.h; `err` null when the chunk has none), then
// the code bytes.
uint32_t slot(int64_t uid, std::size_t chunk, std::size_t slot, int64_t id, float norm,
              const uint16_t *err, const uint8_t *code, std::size_t code_bytes);
// The same sum as format 4 wrote it, with a float32 err: read only by the upgrade to format 5.
uint32_t slot_format4(int64_t uid, std::size_t chunk, std::size_t slot, int64_t id, float norm,
                      const float *err, const uint8_t *code, std::size_t code_bytes);
// How a sum is kept in an INTEGER column (items, catalog and model rows): as the signed 32-bit
// integer of its bits since format 5, four bytes in SQLite's record where a value of 2^31 or
// more takes six; format 4 and before wrote it unsigned. Both read back as the same sum.
inline int64_t to_column(uint32_t sum) { return static_cast<int32_t>(sum); }
inline bool column_matches(int64_t stored, uint32_t sum) {
    return stored == to_column(sum) || stored == int64_t{sum};
}
// The stored bytes of item `id`'s raw vector (without the 4-byte sum that follows them).
uint32_t raw(int64_t uid, int64_t id, const uint8_t *bytes, std::size_t n);
// An items row: id, chunk, slot, whether it has metadata, and the metadata's bytes.
uint32_t item(int64_t uid, int64_t id, int64_t chunk, int64_t slot, bool has_meta,
              std::string_view meta);
// A catalog row: every column but `sum` itself.
uint32_t collection(const CollectionMeta &m);
// A pvec_models row: its collection, version and blob.
uint32_t model(int64_t uid, int64_t collection_id, int64_t version, const uint8_t *blob,
               std::size_t n);

}  // namespace checksum
}  // namespace pocketvec::store
