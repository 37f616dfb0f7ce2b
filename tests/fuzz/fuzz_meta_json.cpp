// Item metadata (the `meta` text of pvec_add / pvec_upsert): the validator itself
// (store::check_meta_json on a connection of the target's own) accepts exactly what json_valid()
// accepts and answers PVEC_INVALID or PVEC_RANGE otherwise; through the C API, pvec_add and
// pvec_upsert answer the same code, and an accepted text reads back from pvec_get byte for byte.
// The input is the text up to its first NUL (C strings end there). A few inputs are padded past
// the 1 MiB limit (last byte 0xff: the text is repeated), so that the PVEC_RANGE path is reached.
#include <pocketvec/pocketvec.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_check.h"
#include "store/meta_json.h"

namespace {

using namespace pocketvec;

struct Validator {
    sqlite3 *conn = nullptr;
    store::Stmt valid, check, oracle;
    Validator() {
        PVEC_FUZZ_CHECK(sqlite3_open(":memory:", &conn) == SQLITE_OK);
        PVEC_FUZZ_CHECK(valid.prepare(conn, "SELECT json_valid(?1)").is_ok());
        PVEC_FUZZ_CHECK(oracle.prepare(conn, "SELECT json_valid(?1)").is_ok());
    }
};

// One collection for the whole run; each input adds item 1, reads it and deletes it again.
struct Store {
    pvec_db *db = nullptr;
    pvec_collection *coll = nullptr;
    Store() {
        sqlite3 *conn = nullptr;
        PVEC_FUZZ_CHECK(sqlite3_open(":memory:", &conn) == SQLITE_OK);
        PVEC_FUZZ_CHECK(pvec_db_attach(conn, nullptr, &db, nullptr) == PVEC_OK);
        pvec_collection_options o = PVEC_COLLECTION_OPTIONS_INIT;
        o.dim = 2;
        o.metric = PVEC_METRIC_L2;
        PVEC_FUZZ_CHECK(pvec_collection_create(db, "c", &o, &coll, nullptr) == PVEC_OK);
    }
};

void check_readback(pvec_collection *coll, const std::string &text) {
    char *meta = nullptr;
    float v[2] = {0, 0};
    PVEC_FUZZ_CHECK(pvec_get(coll, 1, v, 2, &meta, nullptr) == PVEC_OK);
    PVEC_FUZZ_CHECK(meta != nullptr && std::strlen(meta) == text.size() &&
                    std::memcmp(meta, text.data(), text.size()) == 0);
    PVEC_FUZZ_CHECK(v[0] == 1.0f && v[1] == -2.0f);
    pvec_free(meta);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Validator val;
    static Store st;
    const auto *chars = reinterpret_cast<const char *>(data);
    // An empty input may come as data == NULL (the replay of an empty file): never pass it on.
    std::string text = size > 0 ? std::string(chars, strnlen(chars, size)) : std::string();
    if (size > 0 && data[size - 1] == 0xff && !text.empty()) {
        const std::string unit = text;
        while (text.size() <= store::kMaxMetaBytes) {
            text += unit;
        }
    }

    // The validator alone.
    const Status s = store::check_meta_json(val.conn, val.valid, val.check, text.c_str());
    int expect = PVEC_OK;
    if (text.size() > store::kMaxMetaBytes) {
        expect = PVEC_RANGE;
    } else {
        store::StmtUse o(val.oracle);
        o.bind_static(1, text);
        PVEC_FUZZ_CHECK(o.step() == SQLITE_ROW);
        expect = o.int64(0) == 1 ? PVEC_OK : PVEC_INVALID;
    }
    PVEC_FUZZ_CHECK(s.code() == expect);
    PVEC_FUZZ_CHECK(s.is_ok() || !s.message().empty());

    // Through the C API: the same answer, and an accepted text is stored as given.
    const float vec[2] = {1.0f, -2.0f};
    char *err = nullptr;
    int rc = pvec_add(st.coll, 1, vec, 2, text.c_str(), &err);
    PVEC_FUZZ_CHECK(rc == expect);
    PVEC_FUZZ_CHECK(rc == PVEC_OK ? err == nullptr : err != nullptr && err[0] != '\0');
    pvec_free(err);
    if (rc == PVEC_OK) {
        check_readback(st.coll, text);
        // Replacing the metadata with the same text through upsert reads back the same.
        PVEC_FUZZ_CHECK(pvec_upsert(st.coll, 1, vec, 2, text.c_str(), nullptr) == PVEC_OK);
        check_readback(st.coll, text);
        PVEC_FUZZ_CHECK(pvec_delete(st.coll, 1, nullptr) == PVEC_OK);
    } else {
        PVEC_FUZZ_CHECK(pvec_upsert(st.coll, 1, vec, 2, text.c_str(), nullptr) == rc);
        PVEC_FUZZ_CHECK(pvec_get(st.coll, 1, nullptr, 0, nullptr, nullptr) == PVEC_NOTFOUND);
    }
    return 0;
}
