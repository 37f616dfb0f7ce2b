// A pocketvec database: one SQLite connection, the registry of resident collections, explicit
// transactions, and the synchronisation of resident state with the file.
//
// Invariants (what a change must keep):
//  - mutex_ is held by every call on this pvec_db (and its collections) while it uses the
//    connection; a search holds it only to bring state up to date and to read raw vectors.
//  - synced_version_ is PRAGMA data_version as of the last successful sync: every resident
//    collection's snapshot equals the file as of that version (plus this connection's own
//    writes). It is recorded only after every collection reloaded without error, so a failed
//    reload is retried by the next call rather than skipped.
//  - Lock, then refresh, then write: a write scope takes SQLite's write lock (BEGIN IMMEDIATE,
//    or the explicit transaction's) before syncing, so no write uses state read before its lock.
//  - Collections written inside a multi-call transaction (pvec_db_begin, or an application's
//    transaction on an attached connection) are listed in txn_writers_; SQLite's commit and
//    rollback hooks keep or restore their pre-transaction snapshots.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "store/catalog.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

class Collection;

// What pvec_db_check found: every problem counted, the first kMaxLines described.
struct DamageReport {
    static constexpr std::size_t kMaxLines = 1000;
    std::vector<std::string> lines;
    std::size_t count = 0;
    void add(std::string what);
};

struct OpenOptions {
    bool readonly = false;
    bool nocreate = false;
    bool wal = false;
    int busy_timeout_ms = 5000;  // < 0: do not wait
    // SQLCipher's key (pvec_open_options.key): the caller's bytes, read during open only.
    const void *key = nullptr;
    uint32_t key_bytes = 0;
};

struct CollectionSpec {
    uint32_t dim = 0;
    Metric metric = Metric::cosine;
    std::string codec = "f32";
    uint32_t pca_dim = 0;
    uint32_t raw_tier = 0;
    uint32_t train_threshold = 0;
    uint32_t flags = 0;
};

class Database {
public:
    static Status open(const std::string &path, const OpenOptions &opts,
                       std::unique_ptr<Database> *out);
    static Status attach(sqlite3 *conn, const OpenOptions &opts, std::unique_ptr<Database> *out);
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    std::mutex &mutex() { return mutex_; }
    sqlite3 *conn() const { return conn_; }
    bool readonly() const { return readonly_; }
    // SQLite's json_valid() exists on the connection (JSON1: built in since 3.38, optional
    // before); otherwise metadata is checked by is_valid_json (store/json_check.h).
    bool has_json1() const { return has_json1_; }
    Catalog &catalog() { return catalog_; }

    Status begin();
    Status commit();
    Status rollback();
    // An explicit transaction is open and SQLite has not ended it.
    bool in_live_txn() const { return explicit_txn_ && !txn_aborted_; }
    // `st` of a write call, with a note when SQLite rolled back the whole explicit transaction
    // during that call.
    Status annotate(Status st);
    // Records that SQLite ended the explicit transaction on its own, if it did.
    void notice_txn_end();

    Status create_collection(const std::string &name, const CollectionSpec &spec,
                             std::shared_ptr<Collection> *out);
    Status open_collection(const std::string &name, std::shared_ptr<Collection> *out);
    // A streaming object on collection `name` for one handle (store/stream.cpp): never in the
    // registry, holding no chunks; PVEC_RANGE when memory_cap is below one chunk's minimum.
    Status open_streaming(const std::string &name, uint64_t memory_cap,
                          std::shared_ptr<Collection> *out);
    Status drop_collection(const std::string &name);
    Status list_collections(std::vector<std::string> *names);
    // Verifies the whole file in one read transaction (pvec_db_check); damage goes to *report.
    Status check(DamageReport *report);

    // Brings every resident collection up to the file when another connection committed (one
    // read transaction). Inside this connection's own transaction there is nothing to do.
    Status sync();
    // The same, inside a transaction the caller holds.
    Status sync_in_txn();

    // Open C handles on collections of this database; close refuses while any remain.
    int open_handles = 0;

    // One atomic write call: BEGIN IMMEDIATE ... COMMIT, or a savepoint inside a transaction;
    // begin() syncs after taking the lock. Unless commit() succeeds, the destructor rolls the
    // file back (the call's draft is simply dropped).
    class WriteScope {
    public:
        explicit WriteScope(Database &db) : db_(db) {}
        ~WriteScope();
        WriteScope(const WriteScope &) = delete;
        WriteScope &operator=(const WriteScope &) = delete;
        Status begin();
        // Only the transaction (or savepoint), without the sync: for creating the schema.
        Status begin_schema();
        Status commit();

    private:
        Database &db_;
        bool active_ = false;
        bool savepoint_ = false;
    };

    // A read transaction around several statements that must see one committed state (and
    // syncs inside it); nothing when a transaction is already open.
    class ReadScope {
    public:
        explicit ReadScope(Database &db) : db_(db) {}
        ~ReadScope();
        ReadScope(const ReadScope &) = delete;
        ReadScope &operator=(const ReadScope &) = delete;
        Status begin();
        // Only the transaction, without the sync.
        Status begin_plain();
        Status end();

    private:
        Database &db_;
        bool active_ = false;
    };

    // Gives pages freed by a re-encode or a drop back to the file system (incremental
    // auto-vacuum), when no transaction is open.
    void release_free_pages();

    // A collection publishes a state inside a multi-call transaction.
    void note_txn_write(std::shared_ptr<Collection> c);
    // The next call compares every resident collection's version with the file.
    void request_full_sync() noexcept { force_sync_ = true; }

private:
    Database() : catalog_(nullptr) {}
    Status init(bool may_create);
    Status read_data_version(int64_t *v);
    Status read_has_schema(bool *exists);
    Status lookup(const std::string &name, std::shared_ptr<Collection> *out);
    // The catalog row of `name` (the caller has synced); PVEC_NOTFOUND, or PVEC_CORRUPT when the
    // name may be missing for damage.
    Status find_meta(const std::string &name, CollectionMeta *meta);
    static int on_commit(void *self);
    static void on_rollback(void *self);
    void end_txn(bool committed) noexcept;

    std::mutex mutex_;
    sqlite3 *conn_ = nullptr;
    bool owns_conn_ = false;
    bool readonly_ = false;
    bool explicit_txn_ = false;
    bool txn_is_savepoint_ = false;
    bool txn_aborted_ = false;               // SQLite ended the explicit transaction by an error
    std::atomic<bool> abort_note_{false};    // ... during the current call
    bool has_schema_ = false;
    bool has_json1_ = false;  // set once by init(), read-only afterwards
    bool keyed_ = false;      // pvec_db_open applied an SQLCipher key (set before init())
    int64_t synced_version_ = -1;
    std::atomic<bool> force_sync_{false};  // a rollback hook ran: compare versions again
    Catalog catalog_;
    std::map<int64_t, std::shared_ptr<Collection>> collections_;  // by rowid
    std::mutex txn_mutex_;  // guards txn_writers_ and retired_
    std::list<std::shared_ptr<Collection>> txn_writers_;
    std::list<std::shared_ptr<Collection>> retired_;  // from the hooks, released by sync()
    Stmt data_version_stmt_, freelist_stmt_, schema_probe_stmt_;
};

}  // namespace pocketvec::store
