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
    StmtUse use(valid);
    use.bind_static(1, std::string_view(json, len));
    int rc = use.step();
    if (rc != SQLITE_ROW) {
        return sqlite_status(conn, rc, "validating metadata");
    }
    if (use.int64(0) == 1) {
        return Status::ok();
    }
    // json_valid() also answers 0 when it ran out of memory; json() tells the two apart (it
    // raises "malformed JSON" for bad text, SQLITE_NOMEM for memory).
    if (!check.prepared()) {
        PVEC_FORWARD_IF_ERROR(check.prepare(conn, "SELECT json(?1)"));
    }
    StmtUse again(check);
    again.bind_static(1, std::string_view(json, len));
    rc = again.step();
    if (rc == SQLITE_ROW) {
        return Status::ok();
    }
    PVEC_RETURN_IF((rc & 0xff) == SQLITE_ERROR, PVEC_INVALID, "metadata is not valid JSON");
    return sqlite_status(conn, rc, "validating metadata");
}

}  // namespace pocketvec::store
