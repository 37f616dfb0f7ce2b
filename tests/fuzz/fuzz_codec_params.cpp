// Codec parameter blobs (inside every model): any input is refused with PVEC_CORRUPT /
// PVEC_FORMAT or accepted as parameters that validate(), re-serialise to the same bytes, and
// encode, decode and score (row-major and over one block) without fault.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "codec/codec.h"
#include "fuzz_check.h"
#include "kernels/block_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace pocketvec;
    codec::CodecParams p;
    const Status st = codec::CodecParams::deserialize(data, size, &p);
    if (!st.is_ok()) {
        PVEC_FUZZ_CHECK(st.code() == PVEC_CORRUPT || st.code() == PVEC_FORMAT);
        return 0;
    }
    PVEC_FUZZ_CHECK(codec::validate(p).is_ok());
    PVEC_FUZZ_CHECK(p.serialize() == std::vector<uint8_t>(data, data + size));
    if (p.dim > 4096) {
        return 0;  // keeps one execution small; the arithmetic does not depend on the size
    }
    std::vector<float> x(p.dim), back(p.dim);
    for (uint32_t i = 0; i < p.dim; ++i) {
        x[i] = static_cast<float>(int(i % 9) - 4) * 0.3f;
    }
    const std::size_t bytes = codec::code_bytes(p.id, p.dim);
    std::vector<uint8_t> code(bytes);
    codec::encode(p, x.data(), code.data());
    codec::decode(p, code.data(), back.data());
    const codec::PreparedQuery pq = codec::prepare_query(p, x.data());
    float row = 0;
    codec::dot_rows(pq, code.data(), 1, &row);
    const std::size_t bb = kernels::block_bytes(bytes);
    std::unique_ptr<uint8_t, void (*)(void *)> block(
        static_cast<uint8_t *>(std::aligned_alloc(64, bb)), std::free);
    std::memset(block.get(), 0, bb);
    kernels::block_store(block.get(), bytes, 3, code.data());
    alignas(64) float out[kernels::kBlockVectors];
    codec::dot_block(pq, block.get(), out);
    return 0;
}
