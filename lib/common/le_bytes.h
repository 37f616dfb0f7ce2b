// Little-endian byte I/O for the blobs pocketvec stores (codec parameters, PCA, models): one
// definition, so every blob agrees on the byte order whatever the host.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace pocketvec {

inline void put_u32(std::vector<uint8_t> *out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out->push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
}

inline void put_f32(std::vector<uint8_t> *out, float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    put_u32(out, u);
}

inline uint32_t get_u32(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

inline float get_f32(const uint8_t *p) {
    const uint32_t u = get_u32(p);
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

}  // namespace pocketvec
