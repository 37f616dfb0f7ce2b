// NumPy .npy files as `pocketvec import --format npy` reads them: the input is refused with
// ToolError (bad magic, version, header, dtype, order or shape, truncation, values beyond
// float32) or read as rows x dim finite floats exactly as its header declares. The shape is
// checked against the file's size before anything is sized from it, so a header declaring a huge
// array fails at once instead of allocating or reading row after row.
#include "fuzz_tool_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace pocketvec::tool;
    const std::string &path = pvec_fuzz::input_file(data, size, ".npy");
    size_t dim = 0;
    pvec_fuzz::Drained rows;
    if (pvec_fuzz::refused_cleanly([&] {
            auto r = open_reader(InputFormat::kNpy, path, 0);
            dim = r->dim();
            rows = pvec_fuzz::drain(*r, false);
        })) {
        // The header (10 bytes or more) and 4 or 8 bytes per value fit in the file.
        PVEC_FUZZ_CHECK(dim == rows.dim && 10 + rows.vectors.size() * 4 <= size);
        PVEC_FUZZ_CHECK(rows.ids.empty() == (dim == 0));
    }
    return 0;
}
