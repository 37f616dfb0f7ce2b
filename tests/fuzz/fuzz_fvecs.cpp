// fvecs / ivecs files as `pocketvec import --format fvecs`, search and eval read them: the
// streaming reader, the whole-file helpers and the seek to one row either refuse the input with
// ToolError or agree on what it holds; a declared dimension never sizes a buffer beyond
// PVEC_MAX_DIM values.
#include <cstring>

#include "fuzz_tool_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace pocketvec::tool;
    const std::string &path = pvec_fuzz::input_file(data, size, ".fvecs");

    pvec_fuzz::Drained rows;
    const bool streamed = pvec_fuzz::refused_cleanly([&] {
        auto r = open_reader(InputFormat::kFvecs, path, 0);
        rows = pvec_fuzz::drain(*r, false);
    });
    Matrix m;
    const bool whole = pvec_fuzz::refused_cleanly([&] { m = read_fvecs(path); });
    // Both read every row and check every value: they accept the same files, with the same rows.
    PVEC_FUZZ_CHECK(streamed == whole);
    if (whole) {
        PVEC_FUZZ_CHECK(m.rows == rows.ids.size() && m.data.size() == m.rows * m.dim);
        PVEC_FUZZ_CHECK(m.rows == 0 || m.dim == rows.dim);
        PVEC_FUZZ_CHECK(m.data.empty() ||
                        std::memcmp(m.data.data(), rows.vectors.data(), m.data.size() * 4) == 0);
        PVEC_FUZZ_CHECK(m.rows * (4 + 4 * m.dim) <= size);
    }

    // At most 3 rows, and not checked for finiteness (ground-truth ids).
    IntMatrix ints;
    if (pvec_fuzz::refused_cleanly([&] { ints = read_ivecs(path, 3); })) {
        PVEC_FUZZ_CHECK(ints.rows <= 3 && ints.data.size() == ints.rows * ints.dim);
    }

    // The row named by the last byte, found by seeking.
    const size_t want = size > 0 ? data[size - 1] % 4 : 0;
    std::vector<float> one;
    const bool found = pvec_fuzz::refused_cleanly([&] { one = read_fvecs_row(path, want); });
    if (whole && want < m.rows) {
        PVEC_FUZZ_CHECK(found && one.size() == m.dim &&
                        std::memcmp(one.data(), m.row(want), m.dim * 4) == 0);
    }
    return 0;
}
