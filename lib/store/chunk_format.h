// The on-disk layout of one chunk blob (docs/format.md, "Chunk blob"). All integers and floats are
// little-endian; pocketvec refuses to build on big-endian hosts rather than write a foreign format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pocketvec::store {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pocketvec's file format is little-endian");

// A chunk holds `capacity` slots (32, 64, ... 256):
//   [live bitmap: capacity / 8 bytes][ids: capacity x int64][norms: capacity x float32]
//   [sums: capacity x uint32 (store/checksum.h)]
//   [errs: capacity x bfloat16, only in collections flagged kFlagSlotErrors]
//   [codes: capacity x code_bytes, row-major]
// errs[s] bounds how far the vector the code stands for is from the vector rescoring sees
// (Collection::slot_error): what makes exact search from codes possible (PVEC_RESCORE_EXACT).
// It is stored as bfloat16 rounded up (format 5; format 4 stored float32): two bytes instead of
// four cost a bound at most 2^-7 looser, and the float32 range means no error overflows.
// Invariant: a free slot's id, norm, sum, err and code bytes are all zero; a live slot's sum is
// checksum::slot of its id, norm, err (when present, as stored) and code (never zero); the
// resident err of a slot is exactly the stored one (err_stored, then err_value).
constexpr std::size_t kErrBytes = 2;

// A code error as stored: the bfloat16 at or above `e` (e >= 0, not NaN): the bits of its float32
// with the low half dropped, plus one unit when that dropped anything.
inline uint16_t err_stored(float e) {
    uint32_t u;
    std::memcpy(&u, &e, 4);
    const uint32_t up = (u >> 16) + ((u & 0xffffu) != 0 ? 1u : 0u);
    return static_cast<uint16_t>(up);
}
// The stored code error as a float (exact).
inline float err_value(uint16_t stored) {
    const uint32_t u = static_cast<uint32_t>(stored) << 16;
    float e;
    std::memcpy(&e, &u, 4);
    return e;
}

struct ChunkLayout {
    std::size_t capacity;
    std::size_t code_bytes;
    bool with_err = false;

    std::size_t live_offset() const { return 0; }
    std::size_t ids_offset() const { return capacity / 8; }
    std::size_t norms_offset() const { return ids_offset() + capacity * 8; }
    std::size_t sums_offset() const { return norms_offset() + capacity * 4; }
    std::size_t errs_offset() const { return sums_offset() + capacity * 4; }
    std::size_t codes_offset() const { return errs_offset() + (with_err ? capacity * kErrBytes : 0); }
    std::size_t total_bytes() const { return codes_offset() + capacity * code_bytes; }

    std::size_t id_offset(std::size_t slot) const { return ids_offset() + slot * 8; }
    std::size_t norm_offset(std::size_t slot) const { return norms_offset() + slot * 4; }
    std::size_t sum_offset(std::size_t slot) const { return sums_offset() + slot * 4; }
    std::size_t err_offset(std::size_t slot) const { return errs_offset() + slot * kErrBytes; }
    std::size_t code_offset(std::size_t slot) const { return codes_offset() + slot * code_bytes; }
};

}  // namespace pocketvec::store
