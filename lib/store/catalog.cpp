#include "store/catalog.h"

#include "codec/codec.h"
#include "store/checksum.h"
#include "store/upgrade.h"

namespace pocketvec::store {

namespace tables {
std::string items(int64_t id) { return "pvec_c" + std::to_string(id) + "_items"; }
std::string chunks(int64_t id) { return "pvec_c" + std::to_string(id) + "_chunks"; }
std::string versions(int64_t id) { return "pvec_c" + std::to_string(id) + "_versions"; }
std::string raw(int64_t id) { return "pvec_c" + std::to_string(id) + "_raw"; }
std::string raw_chunks(int64_t id) { return "pvec_c" + std::to_string(id) + "_rawchunks"; }
}  // namespace tables

namespace {

// The catalog's tables are pocketvec's, and opening checked that the file lists them: a statement
// on them that does not prepare means a damaged schema, not a bug. (SQLite 3.15, in SQLCipher
// 3.4.1, accepts a damaged CREATE text in sqlite_master and then says "no such table".)
Status prepare_catalog(Stmt &s, sqlite3 *conn, const std::string &sql) {
    Status st = s.prepare(conn, sql);
    PVEC_RETURN_IF(st.code() == PVEC_ERROR, PVEC_CORRUPT,
                   "pocketvec's catalog is damaged: " + st.message());
    return st;
}

constexpr const char *kRowColumns =
    "SELECT id, uid, version, name, dim, metric, codec, chunk_capacity, code_bytes, pca_dim,"
    " raw_tier, train_threshold, flags, coalesce(model_id, 0), sum FROM pvec_collections";

// Integers from the file are checked before they are narrowed: 2^32 + 32 is not 32.
bool fits_u32(int64_t v) { return v >= 0 && v <= int64_t{0xFFFFFFFF}; }

}  // namespace

int64_t new_collection_uid() {
    int64_t v = 0;
    while (v == 0) {
        sqlite3_randomness(sizeof v, &v);
    }
    return v;
}

Status validate_definition(const CollectionMeta &m) {
    codec::CodecId codec_id;
    PVEC_RETURN_IF(m.dim < 1 || m.dim > 65536 || m.chunk_capacity != 256 ||
                       !codec::codec_from_name(m.codec, &codec_id) || m.pca_dim >= m.dim ||
                       m.raw_tier > kRawLast || m.code_bytes < 1 ||
                       m.code_bytes > m.dim * 4 || (m.flags & ~kKnownFlags) != 0 ||
                       ((m.flags & kFlagSlotErrors) != 0 && (m.model_id == 0 || m.raw_tier == kRawNone)) ||
                       ((m.flags & kFlagRawChunks) != 0 && m.raw_tier != kRawF32 && m.raw_tier != kRawF16) ||
                       ((m.flags & kFlagRawParts) != 0 && (m.flags & kFlagRawChunks) == 0) ||
                       m.uid == 0 ||
                       m.version < 0 || m.model_id < 0 ||
                       (m.model_id == 0 && m.code_bytes != m.dim * 4),
                   PVEC_CORRUPT, "collection '" + m.name + "' has an invalid definition");
    return Status::ok();
}

namespace {

// The row `use` stands on, checked: its checksum, then that it is a definition this library serves.
Status parse_row(const StmtUse &use, CollectionMeta *out, bool check_sum = true) {
    CollectionMeta m;
    m.id = use.int64(0);
    m.uid = use.int64(1);
    m.version = use.int64(2);
    m.name = std::string(use.text(3));
    const std::string where = "collection '" + m.name + "'";
    for (int col = 4; col <= 12; ++col) {
        PVEC_RETURN_IF(col != 6 && !fits_u32(use.int64(col)), PVEC_CORRUPT,
                       where + " has an invalid definition");
    }
    m.dim = static_cast<uint32_t>(use.int64(4));
    PVEC_RETURN_IF(!metric_from_code(static_cast<uint32_t>(use.int64(5)), &m.metric), PVEC_CORRUPT,
                   where + " has an unknown metric");
    m.codec = std::string(use.text(6));
    m.chunk_capacity = static_cast<uint32_t>(use.int64(7));
    m.code_bytes = static_cast<uint32_t>(use.int64(8));
    m.pca_dim = static_cast<uint32_t>(use.int64(9));
    m.raw_tier = static_cast<uint32_t>(use.int64(10));
    m.train_threshold = static_cast<uint32_t>(use.int64(11));
    m.flags = static_cast<uint32_t>(use.int64(12));
    m.model_id = use.int64(13);
    PVEC_RETURN_IF(check_sum && !checksum::column_matches(use.int64(14), checksum::collection(m)), PVEC_CORRUPT,
                   "the catalog row of collection id " + std::to_string(m.id) +
                       " is damaged (checksum mismatch)");
    PVEC_FORWARD_IF_ERROR(validate_definition(m));
    *out = std::move(m);
    return Status::ok();
}

}  // namespace

Status Catalog::read_row(Stmt &stmt, CollectionMeta *out, bool *found, const std::string &what) {
    StmtUse use(stmt);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        *found = false;
        return Status::ok();
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(conn_, rc, "reading " + what);
    }
    PVEC_FORWARD_IF_ERROR(parse_row(use, out));
    *found = true;
    return Status::ok();
}

Status Catalog::read_by_name(const std::string &name, CollectionMeta *out, bool *found) {
    if (!by_name_.prepared()) {
        // "+name": the catalog is read by scanning its few rows, never through the name index, so a
        // damaged index cannot hide a collection or hand out another one.
        PVEC_FORWARD_IF_ERROR(
            prepare_catalog(by_name_, conn_, std::string(kRowColumns) + " WHERE +name = ?1"));
    }
    // A failed bind (no memory) would look the collection up as NULL and "not find" it.
    const int rc = sqlite3_bind_text64(by_name_.get(), 1, name.data(), name.size(),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        sqlite3_clear_bindings(by_name_.get());
        return sqlite_status(conn_, rc, "looking up collection '" + name + "'");
    }
    return read_row(by_name_, out, found, "collection '" + name + "'");
}

Status Catalog::read_by_id(int64_t id, CollectionMeta *out, bool *found) {
    if (!by_id_.prepared()) {
        PVEC_FORWARD_IF_ERROR(
            prepare_catalog(by_id_, conn_, std::string(kRowColumns) + " WHERE id = ?1"));
    }
    sqlite3_bind_int64(by_id_.get(), 1, id);
    return read_row(by_id_, out, found, "the collection catalog");
}

Status Catalog::create(CollectionMeta *meta) {
    Stmt ins;
    PVEC_FORWARD_IF_ERROR(prepare_catalog(ins, conn_,
        "INSERT INTO pvec_collections(name, dim, metric, codec, chunk_capacity, code_bytes,"
        " pca_dim, raw_tier, train_threshold, flags, uid, version, sum)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, 0)"));
    meta->uid = new_collection_uid();
    meta->version = 1;
    {
        StmtUse use(ins);
        use.bind(1, std::string_view(meta->name));
        use.bind(2, int64_t{meta->dim});
        use.bind(3, int64_t{static_cast<uint32_t>(meta->metric)});
        use.bind(4, std::string_view(meta->codec));
        use.bind(5, int64_t{meta->chunk_capacity});
        use.bind(6, int64_t{meta->code_bytes});
        use.bind(7, int64_t{meta->pca_dim});
        use.bind(8, int64_t{meta->raw_tier});
        use.bind(9, int64_t{meta->train_threshold});
        use.bind(10, int64_t{meta->flags});
        use.bind(11, meta->uid);
        int rc = use.step();
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            return error(PVEC_EXISTS, "a collection named '" + meta->name + "' already exists");
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "creating collection '" + meta->name + "'");
        }
    }
    meta->id = sqlite3_last_insert_rowid(conn_);
    // The sum covers the id, which exists only once the row does.
    PVEC_FORWARD_IF_ERROR(write_sum(*meta));
    std::string sql =
        "CREATE TABLE " + tables::items(meta->id) +
        "(id INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, slot INTEGER NOT NULL, meta TEXT,"
        " sum INTEGER NOT NULL);"
        "CREATE TABLE " + tables::chunks(meta->id) +
        "(id INTEGER PRIMARY KEY, capacity INTEGER NOT NULL, data BLOB NOT NULL);"
        "CREATE TABLE " + tables::versions(meta->id) +
        "(id INTEGER PRIMARY KEY, version INTEGER NOT NULL);";
    if ((meta->flags & kFlagRawChunks) != 0) {
        sql += "CREATE TABLE " + tables::raw_chunks(meta->id) +
               "(id INTEGER PRIMARY KEY, data BLOB NOT NULL);";
    } else if (meta->raw_tier != kRawNone) {
        sql += "CREATE TABLE " + tables::raw(meta->id) + "(id INTEGER PRIMARY KEY, vec BLOB NOT NULL);";
    }
    return exec(conn_, sql.c_str());
}

Status Catalog::write_sum(const CollectionMeta &meta) {
    Stmt upd;
    PVEC_FORWARD_IF_ERROR(
        prepare_catalog(upd, conn_, "UPDATE pvec_collections SET sum = ?2 WHERE id = ?1"));
    StmtUse use(upd);
    use.bind(1, meta.id);
    use.bind(2, checksum::to_column(checksum::collection(meta)));
    int rc = use.step();
    return rc == SQLITE_DONE ? Status::ok()
                             : sqlite_status(conn_, rc, "writing collection '" + meta.name + "'");
}

Status Catalog::read_all_unsealed(std::vector<CollectionMeta> *out) {
    Stmt all;
    PVEC_FORWARD_IF_ERROR(prepare_catalog(all, conn_, std::string(kRowColumns) + " ORDER BY id"));
    StmtUse use(all);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        CollectionMeta m;
        PVEC_FORWARD_IF_ERROR(parse_row(use, &m, /*check_sum=*/false));
        out->push_back(std::move(m));
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn_, rc, "reading the catalog");
}

Status Catalog::find_damaged(std::vector<std::string> *damage, std::vector<CollectionMeta> *good) {
    Stmt all;
    PVEC_FORWARD_IF_ERROR(prepare_catalog(all, conn_, std::string(kRowColumns) + " ORDER BY id"));
    StmtUse use(all);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        CollectionMeta m;
        Status st = parse_row(use, &m);
        if (!st.is_ok()) {
            damage->push_back(st.message());
        } else if (good) {
            good->push_back(std::move(m));
        }
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn_, rc, "reading the catalog");
}

Status Catalog::drop(const CollectionMeta &meta) {
    const std::string sql = "DROP TABLE IF EXISTS " + tables::items(meta.id) +
                            "; DROP TABLE IF EXISTS " + tables::chunks(meta.id) +
                            "; DROP TABLE IF EXISTS " + tables::versions(meta.id) +
                            "; DROP TABLE IF EXISTS " + tables::raw(meta.id) +
                            "; DROP TABLE IF EXISTS " + tables::raw_chunks(meta.id) +
                            "; DELETE FROM pvec_models WHERE collection_id = " +
                            std::to_string(meta.id) +
                            "; DELETE FROM pvec_collections WHERE id = " + std::to_string(meta.id) +
                            ";";
    return exec(conn_, sql.c_str());
}

Status Catalog::bump_version(CollectionMeta *meta) {
    if (!bump_.prepared()) {
        PVEC_FORWARD_IF_ERROR(prepare_catalog(bump_,
            conn_, "UPDATE pvec_collections SET version = ?2, sum = ?4 WHERE id = ?1 AND uid = ?3"));
    }
    CollectionMeta next = *meta;
    next.version += 1;
    StmtUse use(bump_);
    use.bind(1, meta->id);
    use.bind(2, next.version);
    use.bind(3, meta->uid);
    use.bind(4, checksum::to_column(checksum::collection(next)));
    int rc = use.step();
    if (rc != SQLITE_DONE) {
        return sqlite_status(conn_, rc, "updating collection '" + meta->name + "'");
    }
    PVEC_RETURN_IF(sqlite3_changes(conn_) != 1, PVEC_NOTFOUND,
                   "collection '" + meta->name + "' was dropped");
    meta->version += 1;
    return Status::ok();
}

Status Catalog::set_model(CollectionMeta *meta, const model::Model *model) {
    // The new row is inserted before the old one is deleted, so a collection's model ids only
    // grow: another connection tells a new model from the one it holds by its id alone.
    int64_t model_id = 0;
    const uint32_t model_version = model ? meta->model_version + 1 : 0;
    if (model) {
        const std::vector<uint8_t> blob = model->serialize();
        Stmt ins;
        PVEC_FORWARD_IF_ERROR(prepare_catalog(ins, conn_,
            "INSERT INTO pvec_models(collection_id, version, blob, checksum) VALUES(?1, ?2, ?3, ?4)"));
        StmtUse use(ins);
        use.bind(1, meta->id);
        use.bind(2, int64_t{model_version});
        use.bind_blob(3, blob.data(), blob.size());
        use.bind(4, checksum::to_column(checksum::model(meta->uid, meta->id, model_version,
                                                        blob.data(), blob.size())));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "storing the model");
        }
        model_id = sqlite3_last_insert_rowid(conn_);
    }
    Stmt del;
    PVEC_FORWARD_IF_ERROR(
        prepare_catalog(del, conn_, "DELETE FROM pvec_models WHERE collection_id = ?1 AND id != ?2"));
    {
        StmtUse use(del);
        use.bind(1, meta->id);
        use.bind(2, model_id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "replacing the model");
        }
    }
    Stmt upd;
    PVEC_FORWARD_IF_ERROR(prepare_catalog(upd, conn_,
        "UPDATE pvec_collections SET codec = ?2, pca_dim = ?3, flags = ?4, code_bytes = ?5,"
        " model_id = ?6, version = ?7, sum = ?8 WHERE id = ?1"));
    CollectionMeta next = *meta;
    next.version += 1;
    next.model_id = model_id;
    {
        StmtUse use(upd);
        use.bind(1, meta->id);
        use.bind(2, std::string_view(meta->codec));
        use.bind(3, int64_t{meta->pca_dim});
        use.bind(4, int64_t{meta->flags});
        use.bind(5, int64_t{meta->code_bytes});
        model_id ? use.bind(6, model_id) : use.bind_null(6);
        use.bind(7, next.version);
        use.bind(8, checksum::to_column(checksum::collection(next)));
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "updating the collection");
        }
    }
    meta->version += 1;
    meta->model_id = model_id;
    meta->model_version = model_version;
    return Status::ok();
}

Status Catalog::read_model(CollectionMeta *meta_io, std::shared_ptr<const model::Model> *out) {
    const CollectionMeta &meta = *meta_io;
    out->reset();
    if (meta.model_id == 0) {
        meta_io->model_version = 0;
        return Status::ok();
    }
    const std::string where = "collection '" + meta.name + "'";
    Stmt s;
    PVEC_FORWARD_IF_ERROR(prepare_catalog(s, conn_,
        "SELECT version, blob, checksum FROM pvec_models WHERE id = ?1 AND collection_id = ?2"));
    StmtUse use(s);
    use.bind(1, meta.model_id);
    use.bind(2, meta.id);
    int rc = use.step();
    if (rc == SQLITE_DONE) {
        return error(PVEC_CORRUPT, where + ": codes are compressed but the model is missing");
    }
    if (rc != SQLITE_ROW) {
        return sqlite_status(conn_, rc, "reading the model of " + where);
    }
    const auto *blob = static_cast<const uint8_t *>(use.blob(1));
    PVEC_RETURN_IF(!checksum::column_matches(
                       use.int64(2), checksum::model(meta.uid, meta.id, use.int64(0), blob,
                                                     use.bytes(1))),
                   PVEC_CORRUPT, where + ": the model's checksum does not match");
    auto m = std::make_shared<model::Model>();
    Status st = model::Model::deserialize(blob, use.bytes(1), m.get());
    PVEC_RETURN_IF(!st.is_ok(), st.code(), where + ": " + st.message());
    // Checked against the definition read in the same transaction, never an older one.
    PVEC_RETURN_IF(m->dim != meta.dim || m->metric != meta.metric ||
                       m->code_bytes() != meta.code_bytes || !fits_u32(use.int64(0)) ||
                       use.int64(0) == 0,
                   PVEC_CORRUPT, where + ": the model does not match the collection");
    meta_io->model_version = static_cast<uint32_t>(use.int64(0));
    *out = std::move(m);
    return Status::ok();
}

Status Catalog::list_names(std::vector<std::string> *names) {
    Stmt s;
    PVEC_FORWARD_IF_ERROR(
        prepare_catalog(s, conn_, "SELECT name FROM pvec_collections ORDER BY name"));
    StmtUse use(s);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        names->emplace_back(use.text(0));
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn_, rc, "listing collections");
}

namespace {

Status read_int(sqlite3 *conn, const char *sql, int64_t *out, bool *has_row) {
    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(conn, sql));
    StmtUse use(s);
    int rc = use.step();
    *has_row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        *out = use.int64(0);
        return Status::ok();
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn, rc, "reading the schema");
}

}  // namespace

Status create_or_upgrade_schema(sqlite3 *conn, bool may_write, bool *exists, int64_t *format) {
    int64_t n = 0;
    bool row;
    PVEC_FORWARD_IF_ERROR(read_int(
        conn, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pvec_meta'", &n,
        &row));
    *exists = n > 0;
    *format = 0;
    if (!*exists) {
        if (!may_write) {
            return Status::ok();
        }
        const std::string schema = std::string(
            "CREATE TABLE pvec_meta(key TEXT PRIMARY KEY NOT NULL, value);"
            "CREATE TABLE pvec_collections("
            " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, dim INTEGER NOT NULL,"
            " metric INTEGER NOT NULL, codec TEXT NOT NULL, pca_dim INTEGER NOT NULL,"
            " raw_tier INTEGER NOT NULL, train_threshold INTEGER NOT NULL, flags INTEGER NOT NULL,"
            " chunk_capacity INTEGER NOT NULL, code_bytes INTEGER NOT NULL, model_id INTEGER,"
            " uid INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,"
            " sum INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE pvec_models("
            " id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, version INTEGER NOT NULL,"
            " blob BLOB NOT NULL, checksum INTEGER NOT NULL);") +
            "INSERT INTO pvec_meta(key, value) VALUES('format_version', " +
            std::to_string(kFormatVersion) + ");";
        PVEC_FORWARD_IF_ERROR(exec(conn, schema.c_str()));
        *exists = true;
        *format = kFormatVersion;
        return Status::ok();
    }
    PVEC_FORWARD_IF_ERROR(read_int(conn,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
        " ('pvec_collections', 'pvec_models')", &n, &row));
    PVEC_RETURN_IF(n != 2, PVEC_CORRUPT,
                   "pocketvec's catalog is damaged: pvec_collections or pvec_models is missing");
    int64_t v = 0;
    PVEC_FORWARD_IF_ERROR(
        read_int(conn, "SELECT value FROM pvec_meta WHERE key = 'format_version'", &v, &row));
    PVEC_RETURN_IF(!row, PVEC_CORRUPT, "pvec_meta has no format_version");
    *format = v;
    PVEC_RETURN_IF(v < 1, PVEC_CORRUPT, "pvec_meta holds an invalid format_version");
    PVEC_RETURN_IF(v > kFormatVersion, PVEC_FORMAT,
                   "the database uses pocketvec format " + std::to_string(v) +
                       "; this library reads format " + std::to_string(kFormatVersion));
    if (v < kFormatVersion) {
        PVEC_RETURN_IF(!may_write, PVEC_FORMAT,
                       "the database uses pocketvec format " + std::to_string(v) +
                           "; open it read-write once to upgrade it to format " +
                           std::to_string(kFormatVersion));
        if (v == 1) {
            PVEC_FORWARD_IF_ERROR(upgrade_from_1(conn));
        }
        if (v <= 2) {
            PVEC_FORWARD_IF_ERROR(upgrade_from_2(conn));
        }
        if (v <= 3) {
            PVEC_FORWARD_IF_ERROR(upgrade_from_3(conn));
        }
        if (v <= 4) {
            PVEC_FORWARD_IF_ERROR(upgrade_from_4(conn));
        }
        PVEC_FORWARD_IF_ERROR(upgrade_from_5(conn));
        v = kFormatVersion;
    }
    *format = v;
    return Status::ok();
}

}  // namespace pocketvec::store
