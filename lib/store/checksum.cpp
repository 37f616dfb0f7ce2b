#include "store/checksum.h"

#include <cstring>
#include <string>

#include "store/catalog.h"

// xxHash is used as a header-only library (Debian's libxxhash-dev ships xxhash.h): nothing to
// link, so an app that embeds the static library carries no extra runtime dependency.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace pocketvec::store::checksum {
namespace {

// What kind of record a sum covers: part of every seed, so equal bytes in two kinds of record
// never share a sum.
enum Kind : uint32_t { kSlot = 1, kRaw = 2, kItem = 3, kCollection = 4, kModel = 5 };

// The record's header (at most 32 bytes) and key, hashed under the uid, seeds the hash of its body.
uint32_t sum(int64_t uid, Kind kind, int64_t key, const void *header, std::size_t header_bytes,
             const void *body, std::size_t body_bytes) {
    unsigned char h[12 + 32];
    const uint32_t k = kind;
    std::memcpy(h, &k, 4);
    std::memcpy(h + 4, &key, 8);
    if (header_bytes > 0) {
        std::memcpy(h + 12, header, header_bytes);
    }
    const XXH64_hash_t seed = XXH3_64bits_withSeed(h, 12 + header_bytes, static_cast<uint64_t>(uid));
    const auto v = static_cast<uint32_t>(XXH3_64bits_withSeed(body, body_bytes, seed));
    return v == 0 ? 1u : v;
}

// A chunk slot's sum with an err of `err_bytes` (2: bfloat16 since format 5; 4: format 4).
uint32_t slot_with(int64_t uid, std::size_t chunk, std::size_t slot, int64_t id, float norm,
                   const void *err, std::size_t err_bytes, const uint8_t *code,
                   std::size_t code_bytes) {
    unsigned char header[16];
    std::memcpy(header, &id, 8);
    std::memcpy(header + 8, &norm, 4);
    if (err != nullptr) {
        std::memcpy(header + 12, err, err_bytes);
    }
    return sum(uid, kSlot, static_cast<int64_t>(chunk * 256 + slot), header,
               err != nullptr ? 12 + err_bytes : 12, code, code_bytes);
}

}  // namespace

uint32_t slot(int64_t uid, std::size_t chunk, std::size_t slot, int64_t id, float norm,
              const uint16_t *err, const uint8_t *code, std::size_t code_bytes) {
    return slot_with(uid, chunk, slot, id, norm, err, 2, code, code_bytes);
}

uint32_t slot_format4(int64_t uid, std::size_t chunk, std::size_t slot, int64_t id, float norm,
                      const float *err, const uint8_t *code, std::size_t code_bytes) {
    return slot_with(uid, chunk, slot, id, norm, err, 4, code, code_bytes);
}

uint32_t raw(int64_t uid, int64_t id, const uint8_t *bytes, std::size_t n) {
    return sum(uid, kRaw, id, nullptr, 0, bytes, n);
}

uint32_t item(int64_t uid, int64_t id, int64_t chunk, int64_t slot, bool has_meta,
              std::string_view meta) {
    unsigned char header[17];
    std::memcpy(header, &chunk, 8);
    std::memcpy(header + 8, &slot, 8);
    header[16] = has_meta ? 1 : 0;
    return sum(uid, kItem, id, header, sizeof header, meta.data(), meta.size());
}

uint32_t collection(const CollectionMeta &m) {
    // The integer columns in a fixed order, then the two text columns each after its length.
    const int64_t ints[] = {m.id,
                            m.version,
                            m.dim,
                            static_cast<int64_t>(static_cast<uint32_t>(m.metric)),
                            m.pca_dim,
                            m.raw_tier,
                            m.train_threshold,
                            m.flags,
                            m.chunk_capacity,
                            m.code_bytes,
                            m.model_id};
    std::string body(reinterpret_cast<const char *>(ints), sizeof ints);
    const uint64_t name_bytes = m.name.size(), codec_bytes = m.codec.size();
    body.append(reinterpret_cast<const char *>(&name_bytes), 8).append(m.name);
    body.append(reinterpret_cast<const char *>(&codec_bytes), 8).append(m.codec);
    return sum(m.uid, kCollection, m.id, nullptr, 0, body.data(), body.size());
}

uint32_t model(int64_t uid, int64_t collection_id, int64_t version, const uint8_t *blob,
               std::size_t n) {
    return sum(uid, kModel, collection_id, &version, 8, blob, n);
}

}  // namespace pocketvec::store::checksum
