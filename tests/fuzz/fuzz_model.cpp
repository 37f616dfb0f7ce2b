// Model blobs (pvec_model_import, pvec_models rows): any input is either refused with
// PVEC_CORRUPT / PVEC_FORMAT or accepted as a model that re-serialises to exactly the same bytes
// and can encode, reconstruct and prepare a query. Each input is tried as given (mostly refused by
// the checksum) and as a body with a valid checksum appended, which reaches the parsers behind it.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_check.h"
#include "model/model.h"

namespace {

void try_blob(const std::vector<uint8_t> &blob) {
    using namespace pocketvec;
    model::Model m;
    const Status st = model::Model::deserialize(blob.data(), blob.size(), &m);
    if (!st.is_ok()) {
        PVEC_FUZZ_CHECK(st.code() == PVEC_CORRUPT || st.code() == PVEC_FORMAT);
        return;
    }
    PVEC_FUZZ_CHECK(m.serialize() == blob);
    PVEC_FUZZ_CHECK(m.dim >= 1 && m.dim <= PVEC_MAX_DIM);
    std::vector<float> x(m.dim), back(m.dim);
    for (uint32_t i = 0; i < m.dim; ++i) {
        x[i] = static_cast<float>((i % 7) - 3) * 0.25f;
    }
    std::vector<uint8_t> code(m.code_bytes());
    model::encode(m, x.data(), code.data());
    model::reconstruct(m, code.data(), back.data());
    const model::Query q = model::prepare_query(m, x.data());
    (void)q;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<uint8_t> blob(data, data + size);
    try_blob(blob);
    if (size >= 20) {
        const uint64_t sum = pocketvec::model::checksum(data, size);
        for (int i = 0; i < 8; ++i) {
            blob.push_back(static_cast<uint8_t>(sum >> (8 * i)));
        }
        try_blob(blob);
    }
    return 0;
}
