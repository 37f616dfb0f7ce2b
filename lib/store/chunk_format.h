// The on-disk layout of one chunk blob (docs/format.md, "Chunk blob"). All integers and floats are
// little-endian; pocketvec refuses to build on big-endian hosts rather than write a foreign format.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketvec::store {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pocketvec's file format is little-endian");

// A chunk holds `capacity` slots (32, 64, ... 256):
//   [live bitmap: capacity / 8 bytes][ids: capacity x int64][norms: capacity x float32]
//   [sums: capacity x uint32 (store/checksum.h)]
//   [errs: capacity x float32, only in collections flagged kFlagSlotErrors]
//   [codes: capacity x code_bytes, row-major]
// errs[s] bounds how far the vector the code stands for is from the vector rescoring sees
// (Collection::slot_error): what makes exact search from codes possible (PVEC_RESCORE_EXACT).
// Invariant: a free slot's id, norm, sum, err and code bytes are all zero; a live slot's sum is
// checksum::slot of its id, norm, err (when present) and code (never zero).
struct ChunkLayout {
    std::size_t capacity;
    std::size_t code_bytes;
    bool with_err = false;

    std::size_t live_offset() const { return 0; }
    std::size_t ids_offset() const { return capacity / 8; }
    std::size_t norms_offset() const { return ids_offset() + capacity * 8; }
    std::size_t sums_offset() const { return norms_offset() + capacity * 4; }
    std::size_t errs_offset() const { return sums_offset() + capacity * 4; }
    std::size_t codes_offset() const { return errs_offset() + (with_err ? capacity * 4 : 0); }
    std::size_t total_bytes() const { return codes_offset() + capacity * code_bytes; }

    std::size_t id_offset(std::size_t slot) const { return ids_offset() + slot * 8; }
    std::size_t norm_offset(std::size_t slot) const { return norms_offset() + slot * 4; }
    std::size_t sum_offset(std::size_t slot) const { return sums_offset() + slot * 4; }
    std::size_t err_offset(std::size_t slot) const { return errs_offset() + slot * 4; }
    std::size_t code_offset(std::size_t slot) const { return codes_offset() + slot * code_bytes; }
};

}  // namespace pocketvec::store
