// A pocketvec database: one SQLite connection, the registry of resident collections, explicit
// transactions and the undo log that keeps resident data in step with rollbacks.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/metric.h"
#include "common/status.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

class Collection;

struct OpenOptions {
    bool readonly = false;
    bool nocreate = false;
    int busy_timeout_ms = 5000;  // < 0: do not wait
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

    // Held by the C API around every call on this database or its collections.
    std::mutex &mutex() { return mutex_; }
    sqlite3 *conn() const { return conn_; }
    bool readonly() const { return readonly_; }
    bool in_transaction() const { return explicit_txn_; }

    Status begin();
    Status commit();
    Status rollback();

    Status create_collection(const std::string &name, const CollectionSpec &spec,
                             std::shared_ptr<Collection> *out);
    Status open_collection(const std::string &name, std::shared_ptr<Collection> *out);
    Status drop_collection(const std::string &name);
    Status list_collections(std::vector<std::string> *names);

    // Reloads resident data when another connection committed since the last call.
    Status sync();

    // Open C handles on collections of this database; close refuses while any remain.
    int open_handles = 0;

    // One atomic write call: BEGIN IMMEDIATE ... COMMIT, or a savepoint inside an explicit
    // transaction. Unless commit() succeeds, the destructor rolls the file back and runs the
    // resident undo entries pushed since begin().
    class WriteScope {
    public:
        explicit WriteScope(Database &db) : db_(db) {}
        ~WriteScope();
        WriteScope(const WriteScope &) = delete;
        WriteScope &operator=(const WriteScope &) = delete;
        Status begin();
        Status commit();

    private:
        Database &db_;
        bool active_ = false;
        bool savepoint_ = false;
        std::size_t undo_mark_ = 0;
    };

    // Gives pages freed by a re-encode or a drop back to the file system (incremental
    // auto-vacuum), when no transaction is open.
    void release_free_pages();

    // Records how to revert one resident change if the enclosing write is rolled back.
    void push_undo(std::function<void()> undo) { undo_.push_back(std::move(undo)); }

private:
    Database() = default;
    Status init_schema(bool may_create);
    Status load_collection(const std::string &name, std::shared_ptr<Collection> *out);
    void undo_to(std::size_t mark);
    Status read_data_version(int64_t *v);

    std::mutex mutex_;
    sqlite3 *conn_ = nullptr;
    bool owns_conn_ = false;
    bool readonly_ = false;
    bool explicit_txn_ = false;
    bool txn_is_savepoint_ = false;
    bool has_schema_ = false;
    int64_t data_version_ = -1;
    std::vector<std::function<void()>> undo_;
    std::map<int64_t, std::shared_ptr<Collection>> collections_;  // by collection id
    Stmt data_version_stmt_, freelist_stmt_;
};

}  // namespace pocketvec::store
