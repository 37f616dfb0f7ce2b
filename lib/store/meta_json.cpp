#include "store/meta_json.h"

#include <cstring>
#include <string_view>

namespace pocketvec::store {

Status check_meta_json(sqlite3 *conn, Stmt &valid, Stmt &check, const char *json) {
    if (json == nullptr) {
        return Status::ok();
    }
    const std::size_t len = strnlen(json, kMaxMetaBytes + 1);
    PVEC_RETURN_IF(len > kMaxMetaBytes, PVEC_RANGE, "metadata is larger than 1 MiB");
    // json_valid(json): 1 valid, 0 not (or out of memory); the statement is reset on return.
    auto json_valid = [&](bool *ok) -> Status {
        StmtUse use(valid);
        use.bind_static(1, std::string_view(json, len));
        const int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(conn, rc, "validating metadata");
        }
        *ok = use.int64(0) == 1;
        return Status::ok();
    };
    bool ok = false;
    PVEC_FORWARD_IF_ERROR(json_valid(&ok));
    if (ok) {
        return Status::ok();
    }
    // json_valid() also answers 0 when it ran out of memory; json() tells the two apart (it
    // raises "malformed JSON" for bad text, SQLITE_NOMEM for memory).
    if (!check.prepared()) {
        PVEC_FORWARD_IF_ERROR(check.prepare(conn, "SELECT json(?1)"));
    }
    StmtUse again(check);
    again.bind_static(1, std::string_view(json, len));
    const int rc = again.step();
    if (rc == SQLITE_ROW) {
        // json() parsed it. From SQLite 3.45 json() also takes JSON5, which json_valid(X) refuses:
        // asking json_valid once more tells a memory failure (now 1) from JSON5 (still 0).
        PVEC_FORWARD_IF_ERROR(json_valid(&ok));
        PVEC_RETURN_IF(!ok, PVEC_INVALID, "metadata is not valid JSON");
        return Status::ok();
    }
    PVEC_RETURN_IF((rc & 0xff) == SQLITE_ERROR, PVEC_INVALID, "metadata is not valid JSON");
    return sqlite_status(conn, rc, "validating metadata");
}

}  // namespace pocketvec::store
