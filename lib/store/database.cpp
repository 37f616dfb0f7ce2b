#include "store/database.h"

#include "codec/codec.h"
#include "store/chunk_format.h"
#include "store/collection.h"

namespace pocketvec::store {
namespace {

// Names are bound as parameters only; these checks keep the registry readable and portable.
Status check_name(const std::string &name) {
    PVEC_RETURN_IF(name.empty(), PVEC_INVALID, "collection name is empty");
    PVEC_RETURN_IF(name.size() > PVEC_MAX_NAME, PVEC_INVALID,
                   "collection name is longer than 255 bytes");
    // Valid UTF-8 only, so that every binding and the file itself can read the name back.
    const auto *s = reinterpret_cast<const unsigned char *>(name.data());
    std::size_t i = 0;
    while (i < name.size()) {
        std::size_t len = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3
                        : (s[i] >> 3) == 30 ? 4 : 0;
        PVEC_RETURN_IF(len == 0 || i + len > name.size(), PVEC_INVALID,
                       "collection name is not valid UTF-8");
        for (std::size_t j = 1; j < len; ++j) {
            PVEC_RETURN_IF((s[i + j] >> 6) != 2, PVEC_INVALID, "collection name is not valid UTF-8");
        }
        i += len;
    }
    return Status::ok();
}

}  // namespace

Status Database::open(const std::string &path, const OpenOptions &opts,
                      std::unique_ptr<Database> *out) {
    std::unique_ptr<Database> db(new Database());
    int flags = opts.readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!opts.readonly && !opts.nocreate) {
        flags |= SQLITE_OPEN_CREATE;
    }
    // Calls are serialised by Database::mutex_, so SQLite's own mutex is not needed.
    flags |= SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(path.c_str(), &db->conn_, flags, nullptr);
    if (rc != SQLITE_OK) {
        Status st = sqlite_status(db->conn_, rc, "opening '" + path + "'");
        sqlite3_close(db->conn_);
        db->conn_ = nullptr;
        return st;
    }
    db->owns_conn_ = true;
    db->readonly_ = opts.readonly;
    sqlite3_extended_result_codes(db->conn_, 1);
    sqlite3_busy_timeout(db->conn_, opts.busy_timeout_ms < 0 ? 0 : opts.busy_timeout_ms);
    PVEC_FORWARD_IF_ERROR(db->init_schema(!opts.readonly));
    *out = std::move(db);
    return Status::ok();
}

Status Database::attach(sqlite3 *conn, const OpenOptions &opts, std::unique_ptr<Database> *out) {
    std::unique_ptr<Database> db(new Database());
    db->conn_ = conn;
    db->owns_conn_ = false;
    db->readonly_ = opts.readonly || sqlite3_db_readonly(conn, "main") == 1;
    PVEC_FORWARD_IF_ERROR(db->init_schema(!db->readonly_));
    *out = std::move(db);
    return Status::ok();
}

Database::~Database() {
    if (explicit_txn_) {
        (void)rollback();
    }
    collections_.clear();  // finalises the collections' statements before the connection closes
    data_version_stmt_.finalize();
    freelist_stmt_.finalize();
    if (owns_conn_) {
        sqlite3_close_v2(conn_);
    }
}

Status Database::read_data_version(int64_t *v) {
    if (!data_version_stmt_.prepared()) {
        PVEC_FORWARD_IF_ERROR(data_version_stmt_.prepare(conn_, "PRAGMA data_version"));
    }
    StmtUse use(data_version_stmt_);
    int rc = use.step();
    if (rc != SQLITE_ROW) {
        return sqlite_status(conn_, rc, "reading data_version");
    }
    *v = use.int64(0);
    return Status::ok();
}

Status Database::init_schema(bool may_create) {
    // The first read tells a database from any other file (SQLITE_NOTADB -> PVEC_CORRUPT).
    Stmt probe;
    PVEC_FORWARD_IF_ERROR(probe.prepare(
        conn_, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'pvec_meta'"));
    bool exists;
    {
        StmtUse use(probe);
        int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(conn_, rc, "reading the database schema");
        }
        exists = use.int64(0) > 0;
    }
    if (!exists && may_create) {
        // A new, empty file gets incremental auto-vacuum (it can only be chosen before the first
        // table): re-encoding at training frees most of a collection's pages.
        Stmt pages;
        PVEC_FORWARD_IF_ERROR(pages.prepare(conn_, "PRAGMA page_count"));
        bool empty;
        {
            StmtUse use(pages);
            empty = use.step() == SQLITE_ROW && use.int64(0) == 0;
        }
        if (empty && sqlite3_get_autocommit(conn_)) {
            PVEC_FORWARD_IF_ERROR(exec(conn_, "PRAGMA auto_vacuum = INCREMENTAL"));
        }
        WriteScope scope(*this);
        PVEC_FORWARD_IF_ERROR(scope.begin());
        PVEC_FORWARD_IF_ERROR(exec(conn_,
            "CREATE TABLE IF NOT EXISTS pvec_meta(key TEXT PRIMARY KEY NOT NULL, value);"
            "CREATE TABLE IF NOT EXISTS pvec_collections("
            " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, dim INTEGER NOT NULL,"
            " metric INTEGER NOT NULL, codec TEXT NOT NULL, pca_dim INTEGER NOT NULL,"
            " raw_tier INTEGER NOT NULL, train_threshold INTEGER NOT NULL, flags INTEGER NOT NULL,"
            " chunk_capacity INTEGER NOT NULL, code_bytes INTEGER NOT NULL, model_id INTEGER);"
            "CREATE TABLE IF NOT EXISTS pvec_models("
            " id INTEGER PRIMARY KEY, collection_id INTEGER NOT NULL, version INTEGER NOT NULL,"
            " blob BLOB NOT NULL, checksum INTEGER NOT NULL);"));
        Stmt ins;
        PVEC_FORWARD_IF_ERROR(ins.prepare(
            conn_, "INSERT OR IGNORE INTO pvec_meta(key, value) VALUES('format_version', ?1)"));
        {
            StmtUse use(ins);
            use.bind(1, int64_t{kFormatVersion});
            int rc = use.step();
            if (rc != SQLITE_DONE) {
                return sqlite_status(conn_, rc, "writing the format version");
            }
        }
        PVEC_FORWARD_IF_ERROR(scope.commit());
        exists = true;
    }
    has_schema_ = exists;
    if (exists) {
        Stmt ver;
        PVEC_FORWARD_IF_ERROR(
            ver.prepare(conn_, "SELECT value FROM pvec_meta WHERE key = 'format_version'"));
        StmtUse use(ver);
        int rc = use.step();
        if (rc != SQLITE_ROW) {
            return rc == SQLITE_DONE ? error(PVEC_CORRUPT, "pvec_meta has no format_version")
                                     : sqlite_status(conn_, rc, "reading the format version");
        }
        int64_t v = use.int64(0);
        PVEC_RETURN_IF(v < 1, PVEC_CORRUPT, "pvec_meta holds an invalid format_version");
        PVEC_RETURN_IF(v > kFormatVersion, PVEC_FORMAT,
                       "the database uses pocketvec format " + std::to_string(v) +
                           "; this library reads format " + std::to_string(kFormatVersion));
    }
    return read_data_version(&data_version_);
}

Status Database::sync() {
    if (explicit_txn_ || !sqlite3_get_autocommit(conn_)) {
        return Status::ok();  // inside a transaction nobody else can have committed under us
    }
    int64_t v;
    PVEC_FORWARD_IF_ERROR(read_data_version(&v));
    if (v == data_version_) {
        return Status::ok();
    }
    data_version_ = v;
    if (!has_schema_) {
        PVEC_FORWARD_IF_ERROR(init_schema(false));
    }
    // Another connection committed: reload each resident collection, or mark it dropped.
    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(conn_, "SELECT count(*) FROM pvec_collections WHERE id = ?1"));
    for (auto it = collections_.begin(); it != collections_.end();) {
        Collection &c = *it->second;
        bool present;
        {
            StmtUse use(s);
            use.bind(1, c.meta().id);
            int rc = use.step();
            if (rc != SQLITE_ROW) {
                return sqlite_status(conn_, rc, "checking collections");
            }
            present = use.int64(0) > 0;
        }
        if (!present) {
            c.set_dropped(true);
            it = collections_.erase(it);
            continue;
        }
        PVEC_FORWARD_IF_ERROR(c.load());
        ++it;
    }
    return Status::ok();
}

void Database::release_free_pages() {
    if (explicit_txn_ || !sqlite3_get_autocommit(conn_) || readonly_) {
        return;
    }
    // Only when there is something to give back: incremental_vacuum is a write transaction.
    if (!freelist_stmt_.prepared() && !freelist_stmt_.prepare(conn_, "PRAGMA freelist_count").is_ok()) {
        return;
    }
    int64_t free_pages = 0;
    {
        StmtUse use(freelist_stmt_);
        if (use.step() == SQLITE_ROW) {
            free_pages = use.int64(0);
        }
    }
    if (free_pages > 0) {
        (void)exec(conn_, "PRAGMA incremental_vacuum");  // best effort: a no-op without auto-vacuum
        (void)read_data_version(&data_version_);
    }
}

void Database::undo_to(std::size_t mark) {
    while (undo_.size() > mark) {
        undo_.back()();
        undo_.pop_back();
    }
}

Database::WriteScope::~WriteScope() {
    if (!active_) {
        return;
    }
    if (savepoint_) {
        (void)exec(db_.conn_, "ROLLBACK TO pvec_call; RELEASE pvec_call");
    } else {
        (void)exec(db_.conn_, "ROLLBACK");
    }
    if (db_.explicit_txn_ && sqlite3_get_autocommit(db_.conn_)) {
        // SQLite rolled the whole transaction back itself (I/O error, full disk): so do we.
        db_.explicit_txn_ = false;
        db_.undo_to(0);
    } else {
        db_.undo_to(undo_mark_);
    }
}

Status Database::WriteScope::begin() {
    PVEC_RETURN_IF(db_.readonly_, PVEC_READONLY, "the database is open read-only");
    undo_mark_ = db_.undo_.size();
    // Inside the app's or our own transaction a savepoint makes this call atomic on its own.
    savepoint_ = db_.explicit_txn_ || !sqlite3_get_autocommit(db_.conn_);
    PVEC_FORWARD_IF_ERROR(exec(db_.conn_, savepoint_ ? "SAVEPOINT pvec_call" : "BEGIN IMMEDIATE"));
    active_ = true;
    return Status::ok();
}

Status Database::WriteScope::commit() {
    PVEC_FORWARD_IF_ERROR(exec(db_.conn_, savepoint_ ? "RELEASE pvec_call" : "COMMIT"));
    active_ = false;
    if (!db_.explicit_txn_) {
        db_.undo_.clear();  // committed for good: nothing left to undo
        // Our own commit does not move data_version; keep it so sync() does not reload.
    }
    return Status::ok();
}

Status Database::begin() {
    PVEC_RETURN_IF(explicit_txn_, PVEC_MISUSE, "a transaction is already open on this database");
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(sync());
    // Inside the application's own transaction (attached connection) ours is a savepoint.
    txn_is_savepoint_ = !sqlite3_get_autocommit(conn_);
    PVEC_FORWARD_IF_ERROR(exec(conn_, txn_is_savepoint_ ? "SAVEPOINT pvec_txn" : "BEGIN IMMEDIATE"));
    explicit_txn_ = true;
    undo_.clear();
    return Status::ok();
}

Status Database::commit() {
    PVEC_RETURN_IF(!explicit_txn_, PVEC_MISUSE, "no transaction is open on this database");
    Status st = exec(conn_, txn_is_savepoint_ ? "RELEASE pvec_txn" : "COMMIT");
    if (!st.is_ok()) {
        if (!txn_is_savepoint_ && sqlite3_get_autocommit(conn_)) {
            explicit_txn_ = false;  // SQLite gave up the transaction: nothing was committed
            undo_to(0);
        }
        return st;  // otherwise still open (e.g. PVEC_BUSY): the caller may retry or roll back
    }
    explicit_txn_ = false;
    undo_.clear();
    release_free_pages();
    return Status::ok();
}

Status Database::rollback() {
    PVEC_RETURN_IF(!explicit_txn_, PVEC_MISUSE, "no transaction is open on this database");
    Status st = exec(conn_, txn_is_savepoint_ ? "ROLLBACK TO pvec_txn; RELEASE pvec_txn"
                                              : "ROLLBACK");
    if (!st.is_ok() && sqlite3_get_autocommit(conn_)) {
        st = Status::ok();  // SQLite had already rolled it back
    }
    explicit_txn_ = false;
    undo_to(0);
    return st;
}

Status Database::load_collection(const std::string &name, std::shared_ptr<Collection> *out) {
    PVEC_RETURN_IF(!has_schema_, PVEC_NOTFOUND, "no collection named '" + name + "'");
    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(conn_,
        "SELECT id, dim, metric, codec, chunk_capacity, code_bytes, pca_dim, raw_tier,"
        " train_threshold, flags FROM pvec_collections WHERE name = ?1"));
    CollectionMeta meta;
    {
        StmtUse use(s);
        use.bind(1, std::string_view(name));
        int rc = use.step();
        if (rc == SQLITE_DONE) {
            return error(PVEC_NOTFOUND, "no collection named '" + name + "'");
        }
        if (rc != SQLITE_ROW) {
            return sqlite_status(conn_, rc, "reading collection '" + name + "'");
        }
        meta.id = use.int64(0);
        meta.name = name;
        meta.dim = static_cast<uint32_t>(use.int64(1));
        PVEC_RETURN_IF(!metric_from_code(static_cast<uint32_t>(use.int64(2)), &meta.metric),
                       PVEC_CORRUPT, "collection '" + name + "' has an unknown metric");
        meta.codec = std::string(use.text(3));
        meta.chunk_capacity = static_cast<uint32_t>(use.int64(4));
        meta.code_bytes = static_cast<uint32_t>(use.int64(5));
        meta.pca_dim = static_cast<uint32_t>(use.int64(6));
        meta.raw_tier = static_cast<uint32_t>(use.int64(7));
        meta.train_threshold = static_cast<uint32_t>(use.int64(8));
        meta.flags = static_cast<uint32_t>(use.int64(9));
    }
    codec::CodecId codec_id;
    PVEC_RETURN_IF(meta.dim < 1 || meta.dim > PVEC_MAX_DIM || meta.chunk_capacity != kChunkSlots ||
                       !codec::codec_from_name(meta.codec, &codec_id) ||
                       meta.pca_dim >= meta.dim || meta.raw_tier > kRawZstdF32 ||
                       meta.code_bytes < 1 || meta.code_bytes > meta.dim * 4,
                   PVEC_CORRUPT, "collection '" + name + "' has an invalid definition");
    auto it = collections_.find(meta.id);
    if (it != collections_.end()) {
        *out = it->second;
        return Status::ok();
    }
    auto coll = std::make_shared<Collection>(*this, meta);
    PVEC_FORWARD_IF_ERROR(coll->load());
    collections_[meta.id] = coll;
    *out = coll;
    return Status::ok();
}

Status Database::open_collection(const std::string &name, std::shared_ptr<Collection> *out) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    PVEC_FORWARD_IF_ERROR(sync());
    return load_collection(name, out);
}

Status Database::create_collection(const std::string &name, const CollectionSpec &spec,
                                   std::shared_ptr<Collection> *out) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    PVEC_RETURN_IF(spec.dim < 1 || spec.dim > PVEC_MAX_DIM, PVEC_RANGE,
                   "dimension must be between 1 and 65536");
    codec::CodecId codec_id;
    PVEC_RETURN_IF(!codec::codec_from_name(spec.codec, &codec_id), PVEC_INVALID,
                   "unknown codec '" + spec.codec + "'");
    PVEC_RETURN_IF(spec.pca_dim >= spec.dim, PVEC_RANGE,
                   "pca_dim must be smaller than the dimension");
    PVEC_RETURN_IF(spec.raw_tier > kRawZstdF32, PVEC_INVALID, "unknown raw tier");
    PVEC_RETURN_IF((spec.flags & ~kFlagPcaRotate) != 0, PVEC_INVALID, "unknown collection flags");
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(sync());
    PVEC_RETURN_IF(!has_schema_, PVEC_READONLY, "pocketvec's tables are missing");

    WriteScope scope(*this);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    Stmt ins;
    PVEC_FORWARD_IF_ERROR(ins.prepare(conn_,
        "INSERT INTO pvec_collections(name, dim, metric, codec, chunk_capacity, code_bytes,"
        " pca_dim, raw_tier, train_threshold, flags) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    CollectionMeta meta;
    meta.name = name;
    meta.dim = spec.dim;
    meta.metric = spec.metric;
    meta.codec = spec.codec;
    meta.chunk_capacity = kChunkSlots;
    meta.code_bytes = spec.dim * 4;
    meta.pca_dim = spec.pca_dim;
    meta.raw_tier = spec.raw_tier;
    meta.train_threshold = spec.train_threshold;
    meta.flags = spec.flags;
    {
        StmtUse use(ins);
        use.bind(1, std::string_view(name));
        use.bind(2, int64_t{meta.dim});
        use.bind(3, int64_t{static_cast<uint32_t>(meta.metric)});
        use.bind(4, std::string_view(meta.codec));
        use.bind(5, int64_t{meta.chunk_capacity});
        use.bind(6, int64_t{meta.code_bytes});
        use.bind(7, int64_t{meta.pca_dim});
        use.bind(8, int64_t{meta.raw_tier});
        use.bind(9, int64_t{meta.train_threshold});
        use.bind(10, int64_t{meta.flags});
        int rc = use.step();
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            return error(PVEC_EXISTS, "a collection named '" + name + "' already exists");
        }
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "creating collection '" + name + "'");
        }
    }
    meta.id = sqlite3_last_insert_rowid(conn_);
    auto coll = std::make_shared<Collection>(*this, meta);
    PVEC_FORWARD_IF_ERROR(coll->create_tables());
    PVEC_FORWARD_IF_ERROR(coll->load());
    collections_[meta.id] = coll;
    const int64_t id = meta.id;
    push_undo([this, id, coll] {
        coll->set_dropped(true);
        collections_.erase(id);
    });
    PVEC_FORWARD_IF_ERROR(scope.commit());
    *out = coll;
    return Status::ok();
}

Status Database::drop_collection(const std::string &name) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");
    PVEC_FORWARD_IF_ERROR(sync());
    std::shared_ptr<Collection> coll;
    PVEC_FORWARD_IF_ERROR(load_collection(name, &coll));

    WriteScope scope(*this);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    const std::string drop = "DROP TABLE " + coll->items_table() + "; DROP TABLE " +
                             coll->chunks_table() + "; DROP TABLE IF EXISTS " + coll->raw_table() +
                             "; DELETE FROM pvec_models WHERE collection_id = " +
                             std::to_string(coll->meta().id) + ";";
    PVEC_FORWARD_IF_ERROR(exec(conn_, drop.c_str()));
    Stmt del;
    PVEC_FORWARD_IF_ERROR(del.prepare(conn_, "DELETE FROM pvec_collections WHERE id = ?1"));
    {
        StmtUse use(del);
        use.bind(1, coll->meta().id);
        int rc = use.step();
        if (rc != SQLITE_DONE) {
            return sqlite_status(conn_, rc, "dropping collection '" + name + "'");
        }
    }
    const int64_t id = coll->meta().id;
    coll->set_dropped(true);
    collections_.erase(id);
    push_undo([this, id, coll] {
        coll->set_dropped(false);
        collections_[id] = coll;
    });
    PVEC_FORWARD_IF_ERROR(scope.commit());
    release_free_pages();
    return Status::ok();
}

Status Database::list_collections(std::vector<std::string> *names) {
    PVEC_FORWARD_IF_ERROR(sync());
    names->clear();
    if (!has_schema_) {
        return Status::ok();
    }
    Stmt s;
    PVEC_FORWARD_IF_ERROR(s.prepare(conn_, "SELECT name FROM pvec_collections ORDER BY name"));
    StmtUse use(s);
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
        names->emplace_back(use.text(0));
    }
    return rc == SQLITE_DONE ? Status::ok() : sqlite_status(conn_, rc, "listing collections");
}

}  // namespace pocketvec::store
