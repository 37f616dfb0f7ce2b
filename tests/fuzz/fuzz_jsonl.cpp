// JSONL as `pocketvec import --format jsonl` reads it, and the JSON parser behind it (SQLite's
// JSON1 on a private connection). The reader refuses a file with ToolError naming the line, or
// hands out one record per non-blank line, all with the first record's dimension, finite floats,
// metadata a JSON object when present. The parser alone, on the whole input: parse_record and
// parse_vector throw JsonInputError or return a non-empty vector of finite floats.
#include <string_view>

#include "fuzz_tool_io.h"
#include "tools/json_parse.h"

namespace {

template <class F>
bool parsed(F &&f) {
    try {
        f();
        return true;
    } catch (const pocketvec::tool::JsonInputError &e) {
        PVEC_FUZZ_CHECK(e.what()[0] != '\0');
        return false;
    }
}

void check_floats(const std::vector<float> &v) {
    PVEC_FUZZ_CHECK(!v.empty());
    for (float x : v) {
        PVEC_FUZZ_CHECK(std::isfinite(x));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace pocketvec::tool;
    const std::string &path = pvec_fuzz::input_file(data, size, ".jsonl");
    pvec_fuzz::Drained rows;
    if (pvec_fuzz::refused_cleanly([&] {
            auto r = open_reader(InputFormat::kJsonl, path, 0);
            rows = pvec_fuzz::drain(*r, true);
        })) {
        PVEC_FUZZ_CHECK(rows.ids.empty() == (rows.dim == 0));
        for (const auto &m : rows.metas) {
            PVEC_FUZZ_CHECK(!m || (m->size() >= 2 && m->front() == '{' && m->back() == '}'));
        }
    }

    static JsonParser parser;
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    JsonRecord rec;
    if (parsed([&] { rec = parser.parse_record(text); })) {
        check_floats(rec.embedding);
        PVEC_FUZZ_CHECK(!rec.meta || rec.meta->front() == '{');
    }
    std::vector<float> v;
    if (parsed([&] { v = parser.parse_vector(text); })) {
        check_floats(v);
    }
    return 0;
}
