// Shared by the targets of the tool's input readers (fuzz_fvecs, fuzz_npy, fuzz_jsonl): the
// readers take paths, so the input goes to a file of the process's own; a reader that refuses its
// input must throw the tool's ToolError with a message, and what it accepts must be well formed.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tools/cli.h"
#include "tools/readers.h"

namespace pvec_fuzz {

// Writes the input to $TMPDIR/pvec_fuzz_<pid><suffix> (the same file every run) and returns its
// path; the file is removed at exit.
inline const std::string &input_file(const uint8_t *data, size_t size, const char *suffix) {
    static const std::string path = [suffix] {
        const char *dir = std::getenv("TMPDIR");
        std::string p = std::string(dir && *dir ? dir : "/tmp") + "/pvec_fuzz_" +
                        std::to_string(static_cast<long>(getpid())) + suffix;
        static std::string at_exit_path;
        at_exit_path = p;
        std::atexit([] { std::remove(at_exit_path.c_str()); });
        return p;
    }();
    FILE *f = std::fopen(path.c_str(), "wb");
    PVEC_FUZZ_CHECK(f != nullptr);
    PVEC_FUZZ_CHECK(size == 0 || std::fwrite(data, 1, size, f) == size);
    PVEC_FUZZ_CHECK(std::fclose(f) == 0);
    return path;
}

// Runs f(); true when it returned, false when it threw ToolError with a message. Anything else
// (another exception, std::bad_alloc from a size taken on trust) aborts.
template <class F>
bool refused_cleanly(F &&f) {
    try {
        f();
        return true;
    } catch (const pocketvec::tool::ToolError &e) {
        PVEC_FUZZ_CHECK(e.what() != nullptr && e.what()[0] != '\0');
        return false;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        std::abort();
    }
}

// Everything a VectorReader hands out, in batches of an odd size, checked as it comes: one id and
// one (optional) metadata per row, dim() finite floats per row, ids start_id + row unless the
// format carries its own (JSONL).
struct Drained {
    size_t dim = 0;
    std::vector<int64_t> ids;
    std::vector<float> vectors;
    std::vector<std::optional<std::string>> metas;
};

inline Drained drain(pocketvec::tool::VectorReader &r, bool own_ids) {
    Drained out;
    out.dim = r.dim();
    PVEC_FUZZ_CHECK(out.dim <= PVEC_MAX_DIM);
    pocketvec::tool::ImportBatch batch;
    while (true) {
        batch.clear();
        const size_t n = r.read(7, batch);
        PVEC_FUZZ_CHECK(n <= 7 && batch.size() == n && batch.metas.size() == n);
        PVEC_FUZZ_CHECK(batch.vectors.size() == n * out.dim);
        if (n == 0) {
            break;
        }
        PVEC_FUZZ_CHECK(out.dim > 0);
        for (float v : batch.vectors) {
            PVEC_FUZZ_CHECK(std::isfinite(v));
        }
        for (size_t i = 0; i < n; ++i) {
            PVEC_FUZZ_CHECK(own_ids || batch.ids[i] == static_cast<int64_t>(out.ids.size() + i));
        }
        out.ids.insert(out.ids.end(), batch.ids.begin(), batch.ids.end());
        out.vectors.insert(out.vectors.end(), batch.vectors.begin(), batch.vectors.end());
        for (auto &m : batch.metas) {
            out.metas.push_back(std::move(m));
        }
    }
    return out;
}

}  // namespace pvec_fuzz
