#include "store/database.h"

#include <algorithm>

#include "codec/codec.h"
#include "pocketvec/pocketvec.h"
#include "store/collection.h"

namespace pocketvec::store {
namespace {

// The memory map a database opened by pvec_db_open reads through (PRAGMA mmap_size): 256 MiB of
// address space, not memory; pages are the OS page cache's.
constexpr long long kMmapBytes = 256LL << 20;

// Names are bound as parameters only; these checks keep the registry readable and portable.
// Valid UTF-8 as the standard defines it: no overlong forms, no surrogates, nothing past U+10FFFF.
Status check_name(const std::string &name) {
    PVEC_RETURN_IF(name.empty(), PVEC_INVALID, "collection name is empty");
    PVEC_RETURN_IF(name.size() > PVEC_MAX_NAME, PVEC_INVALID,
                   "collection name is longer than 255 bytes");
    const auto *s = reinterpret_cast<const unsigned char *>(name.data());
    const std::size_t n = name.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned c = s[i];
        std::size_t len;
        unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
        if (c < 0x80) {
            len = 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            len = 0;
        }
        bool ok = len != 0 && i + len <= n;
        for (std::size_t j = 1; ok && j < len; ++j) {
            const unsigned b = s[i + j];
            ok = j == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        }
        PVEC_RETURN_IF(!ok, PVEC_INVALID, "collection name is not valid UTF-8");
        i += len;
    }
    return Status::ok();
}

}  // namespace

Status Database::open(const std::string &path, const OpenOptions &opts,
                      std::unique_ptr<Database> *out) {
#ifndef SQLITE_HAS_CODEC
    // Refused before the file is opened, so nothing is created.
    PVEC_RETURN_IF(opts.key != nullptr, PVEC_UNSUPPORTED,
                   "opts->key: this build of pocketvec has no encryption (it links SQLite, not "
                   "SQLCipher; build it with -DPVEC_SQLCIPHER=ON)");
#endif
    std::unique_ptr<Database> db(new Database());
    int flags = opts.readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!opts.readonly && !opts.nocreate) {
        flags |= SQLITE_OPEN_CREATE;
    }
    // Calls are serialised by Database::mutex_, so SQLite's own mutex is not needed.
    flags |= SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE  // SQLite 3.37+; before, only sqlite3_extended_result_codes below
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
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
#ifdef SQLITE_HAS_CODEC
    if (opts.key != nullptr) {
        // Before anything reads the file: SQLCipher derives the page key from these bytes and
        // the salt in the file's first 16 bytes (a new file gets a random salt). The key never
        // becomes SQL text, so it needs no escaping and no copy of ours outlives this call.
        rc = sqlite3_key_v2(db->conn_, "main", opts.key, static_cast<int>(opts.key_bytes));
        if (rc != SQLITE_OK) {
            return sqlite_status(db->conn_, rc, "applying the key to '" + path + "'");
        }
        db->keyed_ = true;
    }
    // sqlite3_key_v2 only stores the key; the first read decrypts page 1 and checks its HMAC. A
    // wrong key, a missing one (an encrypted file opened without, a plain file given one) and a
    // damaged first page all fail here with SQLITE_NOTADB, before any pragma or write.
    rc = sqlite3_exec(db->conn_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    if ((rc & 0xff) == SQLITE_NOTADB) {
        return error(PVEC_CORRUPT,
                     "'" + path + "' is not a database, or " +
                         (opts.key != nullptr
                              ? "not one encrypted with this key (wrong key, or a file that is "
                                "not encrypted)"
                              : "an encrypted one (pass its key in opts->key)"));
    }
    if (rc != SQLITE_OK) {
        return sqlite_status(db->conn_, rc, "reading '" + path + "'");
    }
#endif
    // Reads through a memory map: rescoring reads a few dozen raw vectors at random places in
    // the file, and through read() each costs several system calls (17 us per candidate measured
    // at 100,000 x 384; the map makes them memory reads). Writes still go through SQLite's
    // journal as before. Best effort: a VFS or build without mmap ignores it.
    (void)exec(db->conn_, ("PRAGMA mmap_size = " + std::to_string(kMmapBytes)).c_str());
    if (opts.wal && !opts.readonly) {
        Stmt mode;
        PVEC_FORWARD_IF_ERROR(mode.prepare(db->conn_, "PRAGMA journal_mode = WAL"));
        StmtUse use(mode);
        int rc = use.step();
        if (rc != SQLITE_ROW) {
            return sqlite_status(db->conn_, rc, "switching '" + path + "' to WAL");
        }
        PVEC_RETURN_IF(use.text(0) != "wal", PVEC_UNSUPPORTED,
                       "'" + path + "' cannot use a write-ahead log (journal mode " +
                           std::string(use.text(0)) + ")");
    }
    PVEC_FORWARD_IF_ERROR(db->init(!opts.readonly));
    *out = std::move(db);
    return Status::ok();
}

Status Database::attach(sqlite3 *conn, const OpenOptions &opts, std::unique_ptr<Database> *out) {
    std::unique_ptr<Database> db(new Database());
    db->conn_ = conn;
    db->owns_conn_ = false;
    db->readonly_ = opts.readonly || sqlite3_db_readonly(conn, "main") == 1;
    PVEC_FORWARD_IF_ERROR(db->init(!db->readonly_));
    *out = std::move(db);
    return Status::ok();
}

Database::~Database() {
    if (explicit_txn_ && !txn_aborted_) {
        (void)rollback();
    }
    if (conn_) {
        sqlite3_commit_hook(conn_, nullptr, nullptr);
        sqlite3_rollback_hook(conn_, nullptr, nullptr);
    }
    txn_writers_.clear();
    retired_.clear();
    collections_.clear();  // finalises the collections' statements before the connection closes
    data_version_stmt_.finalize();
    freelist_stmt_.finalize();
    schema_probe_stmt_.finalize();
    catalog_ = Catalog(nullptr);
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

// Prepared once: every write call and every sync after a foreign commit runs it.
Status Database::read_has_schema(bool *exists) {
    if (!schema_probe_stmt_.prepared()) {
        PVEC_FORWARD_IF_ERROR(schema_probe_stmt_.prepare(
            conn_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pvec_meta'"));
    }
    StmtUse use(schema_probe_stmt_);
    int rc = use.step();
    if (rc != SQLITE_ROW) {
        return sqlite_status(conn_, rc, "reading the database schema");
    }
    *exists = use.int64(0) > 0;
    return Status::ok();
}

Status Database::init(bool may_create) {
    catalog_ = Catalog(conn_);
    // The first read tells a database from any other file (SQLITE_NOTADB -> PVEC_CORRUPT).
    bool exists;
    PVEC_FORWARD_IF_ERROR(read_has_schema(&exists));
    {
        // After the first read, so that a failure here means "no such function" (or no memory:
        // then the built-in check is used, which is as strict).
        sqlite3_stmt *probe = nullptr;
        has_json1_ = sqlite3_prepare_v2(conn_, "SELECT json_valid('1')", -1, &probe, nullptr) ==
                     SQLITE_OK;
        sqlite3_finalize(probe);
    }
    if (!exists && may_create) {
        // A new, empty file gets 4 KiB pages and incremental auto-vacuum (both can only be
        // chosen before the first table, page size first). 4 KiB, not larger: fixed-size raw
        // vectors are stored per chunk (store/raw_chunks.h), so no table holds rows of 1-4 KiB
        // that pack into pages only partly, and every table's last page and every blob's last
        // overflow page waste less (16 KiB pages made small stores' fixed cost 4x and f32 files
        // of 100-d vectors 9% larger). Re-encoding at training frees most of a collection's pages.
        Stmt pages;
        PVEC_FORWARD_IF_ERROR(pages.prepare(conn_, "PRAGMA page_count"));
        bool empty;
        {
            StmtUse use(pages);
            empty = use.step() == SQLITE_ROW && use.int64(0) == 0;
        }
        if (empty && sqlite3_get_autocommit(conn_)) {
            // Not in an SQLCipher-encrypted file: its pages are cipher_page_size (1024 in
            // SQLCipher 3), and a different page_size makes the file unreadable on reopen
            // (SQLCipher 3.4.1: SQLITE_CORRUPT, tests/encryption).
            if (!keyed_) {
                PVEC_FORWARD_IF_ERROR(exec(conn_, "PRAGMA page_size = 4096"));
            }
            PVEC_FORWARD_IF_ERROR(exec(conn_, "PRAGMA auto_vacuum = INCREMENTAL"));
        }
    }
    // Creation and the format upgrade in one write transaction, taken only when there is
    // something to write: opening an existing file never waits for another connection's writer.
    bool needs_write = false;
    {
        ReadScope read(*this);
        PVEC_FORWARD_IF_ERROR(read.begin_plain());
        int64_t format = 0;
        Status st = create_or_upgrade_schema(conn_, false, &exists, &format);
        needs_write = may_create && (!exists || (format >= 1 && format < kFormatVersion));
        if (!needs_write) {
            PVEC_FORWARD_IF_ERROR(st);
        }
        PVEC_FORWARD_IF_ERROR(read.end());
    }
    if (needs_write) {
        WriteScope scope(*this);
        PVEC_FORWARD_IF_ERROR(scope.begin_schema());
        int64_t format = 0;
        PVEC_FORWARD_IF_ERROR(create_or_upgrade_schema(conn_, true, &exists, &format));
        PVEC_FORWARD_IF_ERROR(scope.commit());
    }
    has_schema_ = exists;
    sqlite3_commit_hook(conn_, &Database::on_commit, this);
    sqlite3_rollback_hook(conn_, &Database::on_rollback, this);
    return read_data_version(&synced_version_);
}

int Database::on_commit(void *self) {
    static_cast<Database *>(self)->end_txn(true);
    return 0;  // never veto the commit
}

void Database::on_rollback(void *self) { static_cast<Database *>(self)->end_txn(false); }

// Runs inside SQLite (its hooks): memory only, no SQL, no Database mutex (the call running the
// COMMIT or ROLLBACK may hold it).
void Database::end_txn(bool committed) noexcept {
    std::lock_guard<std::mutex> lock(txn_mutex_);
    for (const auto &c : txn_writers_) {
        committed ? c->commit_txn() : c->rollback_txn();
    }
    // Released by the next call, not here: a last reference would finalise statements inside
    // SQLite's hook.
    retired_.splice(retired_.end(), txn_writers_);  // no allocation inside the hook
    if (!committed) {
        // The restored states are compared with the file again at the next call.
        force_sync_ = true;
    }
}

void Database::note_txn_write(std::shared_ptr<Collection> c) {
    std::lock_guard<std::mutex> lock(txn_mutex_);
    if (std::find(txn_writers_.begin(), txn_writers_.end(), c) == txn_writers_.end()) {
        txn_writers_.push_back(std::move(c));
    }
}

Status Database::sync_in_txn() {
    // A first read opens the transaction's snapshot of the file; data_version read after it is
    // the version of that snapshot.
    PVEC_FORWARD_IF_ERROR(read_has_schema(&has_schema_));
    int64_t v;
    PVEC_FORWARD_IF_ERROR(read_data_version(&v));
    if (v == synced_version_ && !force_sync_) {
        return Status::ok();
    }
    const bool forced = force_sync_.exchange(false);
    if (has_schema_) {
        bool exists;
        int64_t format;
        Status st = create_or_upgrade_schema(conn_, false, &exists, &format);
        if (!st.is_ok()) {
            force_sync_ = force_sync_ || forced;
            return st;
        }
    }
    for (auto it = collections_.begin(); it != collections_.end();) {
        Collection &c = *it->second;
        Status st = has_schema_ ? c.refresh() : Status::ok();
        if (!has_schema_) {
            c.mark_dropped();
        }
        if (!st.is_ok()) {
            force_sync_ = force_sync_ || forced;
            return st;
        }
        // A dropped collection leaves the registry when no transaction may bring it back.
        if (c.dropped() && sqlite3_get_autocommit(conn_)) {
            it = collections_.erase(it);
        } else {
            ++it;
        }
    }
    synced_version_ = v;
    return Status::ok();
}

void Database::notice_txn_end() {
    if (explicit_txn_ && !txn_aborted_ && sqlite3_get_autocommit(conn_)) {
        // SQLite rolled the whole transaction back itself (I/O error, full disk, no memory); the
        // rollback hook has restored the resident state. The transaction stays "open" but dead:
        // no later call may commit anything until the application ends it.
        txn_aborted_ = true;
        abort_note_ = true;
    }
}

Status Database::annotate(Status st) {
    if (!abort_note_.exchange(false) || st.is_ok()) {
        return st;
    }
    return error(st.code(), st.message() +
                                "; SQLite rolled back the whole transaction begun with "
                                "pvec_db_begin: nothing written since then is kept, and writes "
                                "fail until pvec_db_rollback ends it");
}

Status Database::sync() {
    notice_txn_end();
    {
        std::list<std::shared_ptr<Collection>> retired;
        {
            std::lock_guard<std::mutex> lock(txn_mutex_);
            retired.swap(retired_);
        }
    }
    if (in_live_txn()) {
        return Status::ok();  // we hold the write lock: nobody else can commit under us
    }
    if (!sqlite3_get_autocommit(conn_)) {
        return sync_in_txn();  // the application's transaction on an attached connection
    }
    int64_t v;
    PVEC_FORWARD_IF_ERROR(read_data_version(&v));
    if (v == synced_version_ && !force_sync_) {
        return Status::ok();
    }
    ReadScope read(*this);
    PVEC_FORWARD_IF_ERROR(read.begin());  // syncs inside the read transaction
    return read.end();
}

Database::ReadScope::~ReadScope() {
    if (active_) {
        (void)exec(db_.conn_, "COMMIT");
    }
}

Status Database::ReadScope::begin_plain() {
    if (sqlite3_get_autocommit(db_.conn_)) {
        PVEC_FORWARD_IF_ERROR(exec(db_.conn_, "BEGIN"));
        active_ = true;
    }
    return Status::ok();
}

Status Database::ReadScope::begin() {
    PVEC_FORWARD_IF_ERROR(begin_plain());
    if (db_.in_live_txn()) {
        return Status::ok();
    }
    return db_.sync_in_txn();
}

Status Database::ReadScope::end() {
    if (!active_) {
        return Status::ok();
    }
    active_ = false;
    // SQLite may have ended the transaction itself: some errors roll it back (SQLite 3.15, in
    // SQLCipher 3.4.1, answers a read of a damaged page with SQLITE_FULL, which does). A read
    // transaction has nothing to commit then.
    if (sqlite3_get_autocommit(db_.conn_)) {
        return Status::ok();
    }
    return exec(db_.conn_, "COMMIT");
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
    db_.notice_txn_end();
}

Status Database::WriteScope::begin_schema() {
    savepoint_ = !sqlite3_get_autocommit(db_.conn_);
    Status st = exec(db_.conn_, savepoint_ ? "SAVEPOINT pvec_call" : "BEGIN IMMEDIATE");
    if (!st.is_ok()) {
        if (!savepoint_ && !sqlite3_get_autocommit(db_.conn_)) {
            (void)exec(db_.conn_, "ROLLBACK");
        }
        db_.notice_txn_end();  // a failed SAVEPOINT may have ended the whole transaction
        return st;
    }
    active_ = true;
    return Status::ok();
}

Status Database::WriteScope::begin() {
    PVEC_RETURN_IF(db_.readonly_, PVEC_READONLY, "the database is open read-only");
    db_.notice_txn_end();
    PVEC_RETURN_IF(db_.txn_aborted_, PVEC_MISUSE,
                   "the transaction begun with pvec_db_begin was rolled back by an earlier error; "
                   "end it with pvec_db_rollback before writing again");
    // Inside the app's or our own transaction a savepoint makes this call atomic on its own.
    PVEC_FORWARD_IF_ERROR(begin_schema());
    // Lock, then refresh: what the call reads from now on is the file's latest committed state.
    if (!db_.in_live_txn()) {
        PVEC_FORWARD_IF_ERROR(db_.sync_in_txn());
    }
    return Status::ok();
}

Status Database::WriteScope::commit() {
    PVEC_FORWARD_IF_ERROR(exec(db_.conn_, savepoint_ ? "RELEASE pvec_call" : "COMMIT"));
    active_ = false;
    return Status::ok();
}

Status Database::begin() {
    PVEC_RETURN_IF(explicit_txn_, PVEC_MISUSE, "a transaction is already open on this database");
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");
    // Inside the application's own transaction (attached connection) ours is a savepoint.
    txn_is_savepoint_ = !sqlite3_get_autocommit(conn_);
    Status st = exec(conn_, txn_is_savepoint_ ? "SAVEPOINT pvec_txn" : "BEGIN IMMEDIATE");
    if (!st.is_ok()) {
        if (!txn_is_savepoint_ && !sqlite3_get_autocommit(conn_)) {
            (void)exec(conn_, "ROLLBACK");  // a BEGIN that failed half-way leaves nothing open
        }
        return st;
    }
    st = sync_in_txn();
    if (!st.is_ok()) {
        (void)exec(conn_, txn_is_savepoint_ ? "ROLLBACK TO pvec_txn; RELEASE pvec_txn" : "ROLLBACK");
        return st;
    }
    explicit_txn_ = true;
    return Status::ok();
}

Status Database::commit() {
    PVEC_RETURN_IF(!explicit_txn_, PVEC_MISUSE, "no transaction is open on this database");
    notice_txn_end();
    abort_note_ = false;
    if (txn_aborted_) {
        explicit_txn_ = txn_aborted_ = false;
        return error(PVEC_ERROR, "the transaction was rolled back by an earlier error: nothing "
                                 "written since pvec_db_begin was committed");
    }
    Status st = exec(conn_, txn_is_savepoint_ ? "RELEASE pvec_txn" : "COMMIT");
    if (!st.is_ok()) {
        if (!txn_is_savepoint_ && sqlite3_get_autocommit(conn_)) {
            explicit_txn_ = false;  // SQLite gave up the transaction: nothing was committed
        }
        return st;  // otherwise still open (e.g. PVEC_BUSY): the caller may retry or roll back
    }
    explicit_txn_ = false;
    release_free_pages();
    return Status::ok();
}

Status Database::rollback() {
    PVEC_RETURN_IF(!explicit_txn_, PVEC_MISUSE, "no transaction is open on this database");
    notice_txn_end();
    abort_note_ = false;
    if (txn_aborted_) {
        explicit_txn_ = txn_aborted_ = false;  // SQLite already rolled it back
        return Status::ok();
    }
    Status st = exec(conn_, txn_is_savepoint_ ? "ROLLBACK TO pvec_txn; RELEASE pvec_txn"
                                              : "ROLLBACK");
    if (!st.is_ok() && sqlite3_get_autocommit(conn_)) {
        st = Status::ok();  // SQLite had already rolled it back
    }
    explicit_txn_ = false;
    if (txn_is_savepoint_) {
        // Rolling back to a savepoint runs no rollback hook; the outer transaction stays the
        // application's. The states published since pvec_db_begin are restored here.
        end_txn(false);
    }
    return st;
}

Status Database::find_meta(const std::string &name, CollectionMeta *meta) {
    PVEC_RETURN_IF(!has_schema_, PVEC_NOTFOUND, "no collection named '" + name + "'");
    bool found;
    PVEC_FORWARD_IF_ERROR(catalog_.read_by_name(name, meta, &found));
    if (!found) {
        // The name may be missing because its row is damaged: then say so rather than NOTFOUND.
        std::vector<std::string> damage;
        PVEC_FORWARD_IF_ERROR(catalog_.find_damaged(&damage));
        PVEC_RETURN_IF(!damage.empty(), PVEC_CORRUPT,
                       "no collection named '" + name + "', and " + damage.front());
        return error(PVEC_NOTFOUND, "no collection named '" + name + "'");
    }
    return Status::ok();
}

// The registry's collection for `name` as of the file (the caller has synced), loaded on first use.
Status Database::lookup(const std::string &name, std::shared_ptr<Collection> *out) {
    CollectionMeta meta;
    PVEC_FORWARD_IF_ERROR(find_meta(name, &meta));
    auto it = collections_.find(meta.id);
    if (it != collections_.end() && it->second->uid() == meta.uid && !it->second->dropped()) {
        *out = it->second;
        return Status::ok();
    }
    auto coll = std::make_shared<Collection>(*this, meta);
    PVEC_FORWARD_IF_ERROR(coll->refresh());
    collections_[meta.id] = coll;
    *out = coll;
    return Status::ok();
}

Status Database::open_collection(const std::string &name, std::shared_ptr<Collection> *out) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    ReadScope read(*this);
    PVEC_FORWARD_IF_ERROR(read.begin());
    PVEC_FORWARD_IF_ERROR(lookup(name, out));
    return read.end();
}

Status Database::open_streaming(const std::string &name, uint64_t memory_cap,
                                std::shared_ptr<Collection> *out) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    const bool committed = sqlite3_get_autocommit(conn_) != 0;
    ReadScope read(*this);
    PVEC_FORWARD_IF_ERROR(read.begin());
    CollectionMeta meta;
    PVEC_FORWARD_IF_ERROR(find_meta(name, &meta));
    // Its own object: opening a streaming handle never loads (or shares) the resident copy.
    auto coll = std::make_shared<Collection>(*this, meta, memory_cap);
    PVEC_FORWARD_IF_ERROR(coll->stream_refresh(committed));
    PVEC_FORWARD_IF_ERROR(read.end());
    *out = std::move(coll);
    return Status::ok();
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
    // A codec whose trained codes would be larger than the float32 vectors (rabitq's 4 bytes of
    // factors at a tiny dimension) could never train: refused now, not at every write.
    PVEC_RETURN_IF(codec::code_bytes(codec_id, spec.pca_dim ? spec.pca_dim : spec.dim) >
                       std::size_t{4} * spec.dim,
                   PVEC_RANGE,
                   "codec '" + spec.codec + "' would store more bytes per vector than float32 at " +
                       "this dimension");
    PVEC_RETURN_IF(spec.raw_tier > kRawLast, PVEC_INVALID, "unknown raw tier");
    PVEC_RETURN_IF((spec.flags & ~kFlagPcaRotate) != 0, PVEC_INVALID, "unknown collection flags");
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");

    WriteScope scope(*this);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    PVEC_RETURN_IF(!has_schema_, PVEC_READONLY, "pocketvec's tables are missing");
    CollectionMeta meta;
    meta.name = name;
    meta.dim = spec.dim;
    meta.metric = spec.metric;
    meta.codec = spec.codec;
    meta.chunk_capacity = 256;
    meta.code_bytes = spec.dim * 4;
    meta.pca_dim = spec.pca_dim;
    meta.raw_tier = spec.raw_tier;
    meta.train_threshold = spec.train_threshold;
    meta.flags = spec.flags;
    if (spec.raw_tier == kRawF32 || spec.raw_tier == kRawF16) {
        meta.flags |= kFlagRawChunks | kFlagRawParts;  // fixed-size raw vectors: stored per chunk
    }
    PVEC_FORWARD_IF_ERROR(catalog_.create(&meta));
    auto coll = std::make_shared<Collection>(*this, meta);
    PVEC_FORWARD_IF_ERROR(coll->refresh());
    PVEC_FORWARD_IF_ERROR(coll->init_untrained_model());
    // Everything that allocates happens before the commit: once it succeeds, nothing may fail.
    auto slot = collections_.emplace(meta.id, coll).first;
    Status st = scope.commit();
    if (!st.is_ok()) {
        collections_.erase(slot);
        return st;
    }
    if (!sqlite3_get_autocommit(conn_)) {
        try {
            note_txn_write(coll);  // a rollback marks it dropped at the next sync
        } catch (...) {
            request_full_sync();  // the next call compares every collection with the file
        }
    }
    *out = std::move(coll);
    return Status::ok();
}

Status Database::drop_collection(const std::string &name) {
    PVEC_FORWARD_IF_ERROR(check_name(name));
    PVEC_RETURN_IF(readonly_, PVEC_READONLY, "the database is open read-only");
    WriteScope scope(*this);
    PVEC_FORWARD_IF_ERROR(scope.begin());
    std::shared_ptr<Collection> coll;
    PVEC_FORWARD_IF_ERROR(lookup(name, &coll));
    PVEC_FORWARD_IF_ERROR(catalog_.drop(coll->snapshot()->meta));
    SnapshotPtr gone = coll->dropped_state();
    PVEC_FORWARD_IF_ERROR(scope.commit());
    coll->publish(std::move(gone));  // inside a transaction, a rollback restores the state before
    if (sqlite3_get_autocommit(conn_)) {
        collections_.erase(coll->id());
        release_free_pages();
    }
    return Status::ok();
}

Status Database::list_collections(std::vector<std::string> *names) {
    names->clear();
    ReadScope read(*this);
    PVEC_FORWARD_IF_ERROR(read.begin());
    if (has_schema_) {
        PVEC_FORWARD_IF_ERROR(catalog_.list_names(names));
    }
    return read.end();
}

}  // namespace pocketvec::store
