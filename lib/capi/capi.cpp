// The C ABI firewall: argument checks, the per-db mutex, and no exception ever crossing extern "C".
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>

#include "pocketvec/pocketvec.h"

#include "common/status.h"
#include "kernels/kernels.h"
#include "store/collection.h"
#include "store/database.h"

using pocketvec::error;
using pocketvec::Status;
namespace store = pocketvec::store;

struct pvec_db {
    std::unique_ptr<store::Database> db;
};

struct pvec_collection {
    pvec_db *owner;
    std::shared_ptr<store::Collection> coll;
};

// Fixed-width ABI structs: their layout must not depend on the compiler's mood.
static_assert(std::is_standard_layout<pvec_open_options>::value, "ABI struct");
static_assert(offsetof(pvec_open_options, key_bytes) == 12, "pvec_open_options layout changed");
static_assert(offsetof(pvec_open_options, key) == 16, "pvec_open_options layout changed");
static_assert(sizeof(pvec_open_options) == 16 + sizeof(void *), "pvec_open_options: no padding");
static_assert(offsetof(pvec_search_options, reserved) == 20, "pvec_search_options layout changed");
static_assert(offsetof(pvec_search_options, rescored) == 24, "pvec_search_options layout changed");
static_assert(sizeof(pvec_search_options) == 24 + sizeof(void *), "pvec_search_options: no padding");
static_assert(offsetof(pvec_train_options, seed) == 24, "pvec_train_options layout changed");
static_assert(offsetof(pvec_collection_options, codec) == 16, "pvec_collection_options layout");
static_assert(offsetof(pvec_collection_info, codec) == 48, "pvec_collection_info layout");
static_assert(offsetof(pvec_collection_info, memory_cap) == 336, "pvec_collection_info layout");
static_assert(sizeof(pvec_collection_info) == 352, "pvec_collection_info: no padding");
static_assert(offsetof(pvec_collection_open_options, memory_cap) == 8,
              "pvec_collection_open_options layout changed");
static_assert(sizeof(pvec_collection_open_options) == 16, "pvec_collection_open_options: no padding");

namespace {

char *copy_string(const std::string &s) {
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (p) {
        std::memcpy(p, s.c_str(), s.size() + 1);
    }
    return p;
}

int report(const Status &st, char **errmsg) {
    if (!st.is_ok() && errmsg) {
        *errmsg = copy_string(st.message().empty() ? pvec_errstr(st.code()) : st.message());
    }
    return st.code();
}

// Runs `body` (returning Status), turning every exception into a status code.
template <class Body>
int guarded(char **errmsg, Body &&body) {
    if (errmsg) {
        *errmsg = nullptr;
    }
    try {
        return report(body(), errmsg);
    } catch (const std::bad_alloc &) {
        return report(error(PVEC_NOMEM, "out of memory"), errmsg);
    } catch (const std::exception &e) {
        return report(error(PVEC_ERROR, std::string("internal error: ") + e.what()), errmsg);
    } catch (...) {
        return report(error(PVEC_ERROR, "internal error"), errmsg);
    }
}

// The option-struct rule (pocketvec.h, "Options"): any struct_size from the struct's first
// version up to this library's is read (the known prefix; fields the caller's version lacks keep
// their defaults); a larger one is accepted when every byte this library does not know is zero.
// The first version of a struct is the one of 0.1.0, its whole size unless it has grown since.
template <class T>
constexpr std::size_t first_size() { return sizeof(T); }
// 0.1.0's pvec_open_options ended after busy_timeout_ms (key_bytes and key came later).
template <>
constexpr std::size_t first_size<pvec_open_options>() {
    return offsetof(pvec_open_options, key_bytes);
}

// 0.1.0's pvec_search_options ended after rescore (reserved and rescored came in 0.2).
template <>
constexpr std::size_t first_size<pvec_search_options>() {
    return offsetof(pvec_search_options, reserved);
}

// 0.1.0's pvec_collection_info ended after model_version (memory_cap and min_memory_cap came in
// 0.2).
template <>
constexpr std::size_t first_size<pvec_collection_info>() {
    return offsetof(pvec_collection_info, memory_cap);
}

template <class T>
Status read_options(const T *in, const T &defaults, T *out, const char *what) {
    *out = defaults;
    if (in == nullptr) {
        return Status::ok();
    }
    const std::size_t n = in->struct_size;
    PVEC_RETURN_IF(n < first_size<T>(), PVEC_MISUSE,
                   std::string(what) + "->struct_size is smaller than the first version of " + what);
    const auto *bytes = reinterpret_cast<const unsigned char *>(in);
    for (std::size_t i = sizeof(T); i < n; ++i) {
        PVEC_RETURN_IF(bytes[i] != 0, PVEC_MISUSE,
                       std::string(what) + " has fields this library does not know (struct_size " +
                           std::to_string(n) + ", known " + std::to_string(sizeof(T)) + ")");
    }
    std::memcpy(out, in, std::min(n, sizeof(T)));
    out->struct_size = static_cast<uint32_t>(sizeof(T));
    return Status::ok();
}

// An output struct: written up to the caller's struct_size (bytes past this library's version
// are zeroed, so a newer caller reads its new fields as "not reported").
template <class T>
Status write_output(const T &value, T *out, const char *what) {
    const std::size_t n = out->struct_size;
    PVEC_RETURN_IF(n < first_size<T>(), PVEC_MISUSE,
                   std::string(what) + "->struct_size is smaller than the first version of " + what);
    auto *bytes = reinterpret_cast<unsigned char *>(out);
    std::memcpy(bytes + sizeof(uint32_t), reinterpret_cast<const unsigned char *>(&value) + sizeof(uint32_t),
                std::min(n, sizeof(T)) - sizeof(uint32_t));
    if (n > sizeof(T)) {
        std::memset(bytes + sizeof(T), 0, n - sizeof(T));
    }
    return Status::ok();
}

// A write call: its status carries a note when SQLite rolled back the explicit transaction.
template <class Body>
int guarded_write(pvec_db *db, char **errmsg, Body &&body) {
    return guarded(errmsg, [&]() -> Status {
        Status st = body();
        return db ? db->db->annotate(std::move(st)) : st;
    });
}

#define PVEC_CHECK_ARG(cond, what)                                                                 \
    PVEC_RETURN_IF(!(cond), PVEC_MISUSE, (what))

store::OpenOptions open_options(const pvec_open_options *opts) {
    store::OpenOptions o;
    {
        o.readonly = (opts->flags & PVEC_OPEN_READONLY) != 0;
        o.nocreate = (opts->flags & PVEC_OPEN_NOCREATE) != 0;
        o.wal = (opts->flags & PVEC_OPEN_WAL) != 0;
        if (opts->busy_timeout_ms != 0) {
            o.busy_timeout_ms = opts->busy_timeout_ms;
        }
        o.key = opts->key;
        o.key_bytes = opts->key_bytes;
    }
    return o;
}

// Both or neither: a pointer without a length (or the reverse) is a caller's slip that would
// otherwise open, or create, an unencrypted file.
Status check_key(const pvec_open_options &o) {
    PVEC_RETURN_IF(o.key != nullptr && o.key_bytes == 0, PVEC_MISUSE,
                   "opts->key is set but opts->key_bytes is 0");
    PVEC_RETURN_IF(o.key == nullptr && o.key_bytes != 0, PVEC_MISUSE,
                   "opts->key_bytes is set but opts->key is NULL");
    PVEC_RETURN_IF(o.key_bytes > 0x7FFFFFFFu, PVEC_RANGE, "opts->key_bytes is over 2^31 - 1");
    return Status::ok();
}

// The collection of a live handle, with its database locked for the call.
#define PVEC_LOCK_COLLECTION(handle)                                                               \
    PVEC_CHECK_ARG((handle) != nullptr, "collection handle is NULL");                              \
    std::lock_guard<std::mutex> lock((handle)->owner->db->mutex());                                \
    PVEC_FORWARD_IF_ERROR((handle)->owner->db->sync());                                            \
    store::Collection &coll = *(handle)->coll

// For write calls: their write scope syncs after it has taken SQLite's lock, so a sync before it
// would be the same work twice.
#define PVEC_LOCK_COLLECTION_FOR_WRITE(handle)                                                     \
    PVEC_CHECK_ARG((handle) != nullptr, "collection handle is NULL");                              \
    std::lock_guard<std::mutex> lock((handle)->owner->db->mutex());                                \
    PVEC_RETURN_IF((handle)->coll->streaming(), PVEC_UNSUPPORTED,                                  \
                   "writes are not available on a streaming handle (memory_cap > 0): open the "    \
                   "collection with pvec_collection_open to write");                               \
    store::Collection &coll = *(handle)->coll

int write_items(pvec_collection *handle, std::size_t n, const int64_t *ids, const float *vecs,
                std::size_t dim, const char *const *metas, bool upsert, char **errmsg) {
    return guarded_write(handle ? handle->owner : nullptr, errmsg, [&]() -> Status {
        PVEC_LOCK_COLLECTION_FOR_WRITE(handle);
        PVEC_CHECK_ARG(ids != nullptr || n == 0, "ids is NULL");
        PVEC_CHECK_ARG(vecs != nullptr || n == 0, "vecs is NULL");
        PVEC_RETURN_IF(dim != coll.dim(), PVEC_DIM,
                       "vector has " + std::to_string(dim) + " components, the collection " +
                           std::to_string(coll.dim()));
        if (n == 0) {
            return Status::ok();
        }
        store::ItemBatch batch{n, ids, vecs, metas};
        return coll.write(batch, upsert);
    });
}

}  // namespace

extern "C" {

uint32_t pvec_version_number(void) { return PVEC_VERSION_NUMBER; }
const char *pvec_version_string(void) { return PVEC_VERSION_STRING; }
void pvec_free(void *p) { std::free(p); }
const char *pvec_kernel_name(void) { return pocketvec::kernels::active().name; }

void pvec_open_options_init(pvec_open_options *opts) {
    if (opts) {
        *opts = pvec_open_options PVEC_OPEN_OPTIONS_INIT;
    }
}
void pvec_collection_options_init(pvec_collection_options *opts) {
    if (opts) {
        *opts = pvec_collection_options PVEC_COLLECTION_OPTIONS_INIT;
    }
}
void pvec_search_options_init(pvec_search_options *opts) {
    if (opts) {
        *opts = pvec_search_options PVEC_SEARCH_OPTIONS_INIT;
    }
}

int pvec_db_open(const char *path, const pvec_open_options *opts, pvec_db **out, char **errmsg) {
    if (out) {
        *out = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(out != nullptr, "out is NULL");
        PVEC_CHECK_ARG(path != nullptr, "path is NULL");
        pvec_open_options o;
        PVEC_FORWARD_IF_ERROR(read_options(opts, pvec_open_options PVEC_OPEN_OPTIONS_INIT, &o, "opts"));
        // A forced kernel level that cannot be honoured is refused, not silently replaced.
        PVEC_RETURN_IF(!pocketvec::kernels::forced_level_error().empty(), PVEC_UNSUPPORTED,
                       pocketvec::kernels::forced_level_error());
        PVEC_RETURN_IF((o.flags & ~(PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE | PVEC_OPEN_WAL)) != 0,
                       PVEC_MISUSE, "opts->flags has unknown bits");
        PVEC_FORWARD_IF_ERROR(check_key(o));
        auto handle = std::make_unique<pvec_db>();
        PVEC_FORWARD_IF_ERROR(store::Database::open(path, open_options(&o), &handle->db));
        *out = handle.release();
        return Status::ok();
    });
}

int pvec_db_attach(struct sqlite3 *conn, const pvec_open_options *opts, pvec_db **out,
                   char **errmsg) {
    if (out) {
        *out = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(out != nullptr, "out is NULL");
        PVEC_CHECK_ARG(conn != nullptr, "conn is NULL");
        pvec_open_options o;
        PVEC_FORWARD_IF_ERROR(read_options(opts, pvec_open_options PVEC_OPEN_OPTIONS_INIT, &o, "opts"));
        PVEC_FORWARD_IF_ERROR(check_key(o));
        PVEC_RETURN_IF(o.key != nullptr, PVEC_MISUSE,
                       "opts->key is for pvec_db_open only: key the application's connection "
                       "itself (sqlite3_key_v2 or PRAGMA key) before pvec_db_attach");
        // A forced kernel level that cannot be honoured is refused, not silently replaced.
        PVEC_RETURN_IF(!pocketvec::kernels::forced_level_error().empty(), PVEC_UNSUPPORTED,
                       pocketvec::kernels::forced_level_error());
        auto handle = std::make_unique<pvec_db>();
        PVEC_FORWARD_IF_ERROR(store::Database::attach(conn, open_options(&o), &handle->db));
        *out = handle.release();
        return Status::ok();
    });
}

int pvec_db_close(pvec_db *db) {
    if (!db) {
        return PVEC_OK;
    }
    return guarded(nullptr, [&]() -> Status {
        {
            std::lock_guard<std::mutex> lock(db->db->mutex());
            PVEC_RETURN_IF(db->db->open_handles > 0, PVEC_BUSY, "collection handles are open");
        }
        delete db;
        return Status::ok();
    });
}

int pvec_db_begin(pvec_db *db, char **errmsg) {
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        std::lock_guard<std::mutex> lock(db->db->mutex());
        return db->db->begin();
    });
}

int pvec_db_commit(pvec_db *db, char **errmsg) {
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        std::lock_guard<std::mutex> lock(db->db->mutex());
        return db->db->commit();
    });
}

int pvec_db_rollback(pvec_db *db, char **errmsg) {
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        std::lock_guard<std::mutex> lock(db->db->mutex());
        return db->db->rollback();
    });
}

int pvec_db_check(pvec_db *db, char **report, char **errmsg) {
    if (report) {
        *report = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        store::DamageReport found;
        {
            std::lock_guard<std::mutex> lock(db->db->mutex());
            PVEC_FORWARD_IF_ERROR(db->db->check(&found));
        }
        std::string text;
        for (const std::string &line : found.lines) {
            text += line;
            text += '\n';
        }
        if (found.count > found.lines.size()) {
            text += "... and " + std::to_string(found.count - found.lines.size()) +
                    " more problems\n";
        }
        if (report) {
            *report = static_cast<char *>(std::malloc(text.size() + 1));
            PVEC_RETURN_IF(*report == nullptr, PVEC_NOMEM, "out of memory");
            std::memcpy(*report, text.c_str(), text.size() + 1);
        }
        PVEC_RETURN_IF(found.count > 0, PVEC_CORRUPT,
                       std::to_string(found.count) + " problems found; the first: " +
                           found.lines.front());
        return Status::ok();
    });
}

int pvec_collection_create(pvec_db *db, const char *name, const pvec_collection_options *opts_in,
                           pvec_collection **out, char **errmsg) {
    if (out) {
        *out = nullptr;
    }
    return guarded_write(db, errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        PVEC_CHECK_ARG(name != nullptr, "name is NULL");
        PVEC_CHECK_ARG(opts_in != nullptr, "opts is NULL (the dimension has no default)");
        pvec_collection_options o;
        PVEC_FORWARD_IF_ERROR(read_options(opts_in, pvec_collection_options PVEC_COLLECTION_OPTIONS_INIT,
                                           &o, "opts"));
        const pvec_collection_options *opts = &o;
        store::CollectionSpec spec;
        spec.dim = opts->dim;
        PVEC_RETURN_IF(opts->metric != 0 &&
                           !pocketvec::metric_from_code(opts->metric, &spec.metric),
                       PVEC_INVALID, "unknown metric " + std::to_string(opts->metric));
        PVEC_RETURN_IF(opts->reserved != 0, PVEC_MISUSE, "opts->reserved must be 0");
        if (opts->codec) {
            spec.codec = std::string(opts->codec, strnlen(opts->codec, 64));
        }
        spec.pca_dim = opts->pca_dim;
        spec.raw_tier = opts->raw_tier;
        spec.train_threshold = opts->train_threshold;
        spec.flags = opts->flags;
        // The handle is allocated before the collection is committed: after that nothing fails.
        std::unique_ptr<pvec_collection> handle(out ? new pvec_collection{db, nullptr} : nullptr);
        std::lock_guard<std::mutex> lock(db->db->mutex());
        std::shared_ptr<store::Collection> coll;
        PVEC_FORWARD_IF_ERROR(db->db->create_collection(name, spec, &coll));
        if (out) {
            handle->coll = std::move(coll);
            *out = handle.release();
            db->db->open_handles++;
        }
        return Status::ok();
    });
}

int pvec_collection_open(pvec_db *db, const char *name, pvec_collection **out, char **errmsg) {
    if (out) {
        *out = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        PVEC_CHECK_ARG(name != nullptr, "name is NULL");
        PVEC_CHECK_ARG(out != nullptr, "out is NULL");
        std::lock_guard<std::mutex> lock(db->db->mutex());
        std::shared_ptr<store::Collection> coll;
        PVEC_FORWARD_IF_ERROR(db->db->open_collection(name, &coll));
        *out = new pvec_collection{db, coll};
        db->db->open_handles++;
        return Status::ok();
    });
}

void pvec_collection_open_options_init(pvec_collection_open_options *opts) {
    if (opts) {
        *opts = pvec_collection_open_options PVEC_COLLECTION_OPEN_OPTIONS_INIT;
    }
}

int pvec_collection_open_v2(pvec_db *db, const char *name,
                            const pvec_collection_open_options *opts, pvec_collection **out,
                            char **errmsg) {
    if (out) {
        *out = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        PVEC_CHECK_ARG(name != nullptr, "name is NULL");
        PVEC_CHECK_ARG(out != nullptr, "out is NULL");
        pvec_collection_open_options o;
        PVEC_FORWARD_IF_ERROR(read_options(
            opts, pvec_collection_open_options PVEC_COLLECTION_OPEN_OPTIONS_INIT, &o, "opts"));
        PVEC_RETURN_IF(o.flags != 0, PVEC_MISUSE, "opts->flags must be 0");
        std::unique_ptr<pvec_collection> handle(new pvec_collection{db, nullptr});
        std::lock_guard<std::mutex> lock(db->db->mutex());
        if (o.memory_cap == 0) {
            PVEC_FORWARD_IF_ERROR(db->db->open_collection(name, &handle->coll));
        } else {
            PVEC_FORWARD_IF_ERROR(db->db->open_streaming(name, o.memory_cap, &handle->coll));
        }
        *out = handle.release();
        db->db->open_handles++;
        return Status::ok();
    });
}

void pvec_collection_close(pvec_collection *coll) {
    if (!coll) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(coll->owner->db->mutex());
        coll->owner->db->open_handles--;
        coll->coll.reset();
    }
    delete coll;
}

int pvec_collection_drop(pvec_db *db, const char *name, char **errmsg) {
    return guarded_write(db, errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        PVEC_CHECK_ARG(name != nullptr, "name is NULL");
        std::lock_guard<std::mutex> lock(db->db->mutex());
        return db->db->drop_collection(name);
    });
}

int pvec_collection_list(pvec_db *db, char ***names, size_t *count, char **errmsg) {
    if (names) {
        *names = nullptr;
    }
    if (count) {
        *count = 0;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(db != nullptr, "db is NULL");
        PVEC_CHECK_ARG(names != nullptr, "names is NULL");
        PVEC_CHECK_ARG(count != nullptr, "count is NULL");
        std::vector<std::string> list;
        {
            std::lock_guard<std::mutex> lock(db->db->mutex());
            PVEC_FORWARD_IF_ERROR(db->db->list_collections(&list));
        }
        if (list.empty()) {
            return Status::ok();
        }
        // One allocation: the pointer array, then the strings it points to.
        std::size_t bytes = list.size() * sizeof(char *);
        for (const auto &s : list) {
            bytes += s.size() + 1;
        }
        char **array = static_cast<char **>(std::malloc(bytes));
        PVEC_RETURN_IF(array == nullptr, PVEC_NOMEM, "out of memory");
        char *text = reinterpret_cast<char *>(array + list.size());
        for (std::size_t i = 0; i < list.size(); ++i) {
            array[i] = text;
            std::memcpy(text, list[i].c_str(), list[i].size() + 1);
            text += list[i].size() + 1;
        }
        *names = array;
        *count = list.size();
        return Status::ok();
    });
}

int pvec_collection_info_get(pvec_collection *handle, pvec_collection_info *info, char **errmsg) {
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(info != nullptr, "info is NULL");
        PVEC_RETURN_IF(info->struct_size < first_size<pvec_collection_info>(), PVEC_MISUSE,
                       "info->struct_size is smaller than the first version of pvec_collection_info");
        PVEC_LOCK_COLLECTION(handle);
        store::CollectionStats stats;
        PVEC_FORWARD_IF_ERROR(coll.stats(&stats));
        const store::SnapshotPtr snap = coll.snapshot();
        const store::CollectionMeta &m = snap->meta;
        pvec_collection_info v;
        std::memset(&v, 0, sizeof v);
        v.struct_size = sizeof v;
        v.dim = m.dim;
        v.metric = static_cast<uint32_t>(m.metric);
        v.code_bytes = m.code_bytes;
        v.count = stats.count;
        v.capacity = stats.capacity;
        v.bytes_used = stats.bytes_used;
        v.collection_id = m.id;
        v.trained = snap->model ? 1u : 0u;
        v.code_dim = snap->model && m.pca_dim ? m.pca_dim : m.dim;
        v.raw_tier = m.raw_tier;
        v.model_version = m.model_version;
        v.memory_cap = coll.memory_cap();
        v.min_memory_cap = store::Collection::min_memory_cap(handle->owner->db->conn(), m);
        std::strncpy(v.codec, m.codec.c_str(), sizeof(v.codec) - 1);
        std::strncpy(v.name, m.name.c_str(), sizeof(v.name) - 1);
        return write_output(v, info, "info");
    });
}

int pvec_add(pvec_collection *coll, int64_t id, const float *vec, size_t dim,
             const char *meta_json, char **errmsg) {
    return write_items(coll, 1, &id, vec, dim, &meta_json, false, errmsg);
}

int pvec_upsert(pvec_collection *coll, int64_t id, const float *vec, size_t dim,
                const char *meta_json, char **errmsg) {
    return write_items(coll, 1, &id, vec, dim, &meta_json, true, errmsg);
}

int pvec_add_batch(pvec_collection *coll, size_t n, const int64_t *ids, const float *vecs,
                   size_t dim, const char *const *metas, char **errmsg) {
    return write_items(coll, n, ids, vecs, dim, metas, false, errmsg);
}

int pvec_upsert_batch(pvec_collection *coll, size_t n, const int64_t *ids, const float *vecs,
                      size_t dim, const char *const *metas, char **errmsg) {
    return write_items(coll, n, ids, vecs, dim, metas, true, errmsg);
}

int pvec_delete(pvec_collection *handle, int64_t id, char **errmsg) {
    return guarded_write(handle ? handle->owner : nullptr, errmsg, [&]() -> Status {
        PVEC_LOCK_COLLECTION_FOR_WRITE(handle);
        return coll.remove(id);
    });
}

int pvec_get(pvec_collection *handle, int64_t id, float *vec, size_t dim, char **meta_json,
             char **errmsg) {
    if (meta_json) {
        *meta_json = nullptr;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_LOCK_COLLECTION(handle);
        PVEC_RETURN_IF(vec && dim != coll.dim(), PVEC_DIM,
                       "buffer holds " + std::to_string(dim) + " floats, the collection's vectors " +
                           std::to_string(coll.dim()));
        std::string meta;
        bool has_meta = false;
        PVEC_FORWARD_IF_ERROR(coll.get(id, vec, meta_json ? &meta : nullptr, &has_meta));
        if (meta_json && has_meta) {
            *meta_json = copy_string(meta);
            PVEC_RETURN_IF(*meta_json == nullptr, PVEC_NOMEM, "out of memory");
        }
        return Status::ok();
    });
}

int pvec_count(pvec_collection *handle, uint64_t *count, char **errmsg) {
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(count != nullptr, "count is NULL");
        PVEC_LOCK_COLLECTION(handle);
        return coll.count(count);
    });
}

int pvec_search(pvec_collection *handle, const float *query, size_t dim, size_t k,
                const pvec_search_options *opts, int64_t *ids, float *scores, size_t *n_found,
                char **errmsg) {
    if (n_found) {
        *n_found = 0;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(query != nullptr, "query is NULL");
        PVEC_CHECK_ARG(ids != nullptr, "ids is NULL");
        PVEC_CHECK_ARG(n_found != nullptr, "n_found is NULL");
        pvec_search_options o;
        PVEC_FORWARD_IF_ERROR(
            read_options(opts, pvec_search_options PVEC_SEARCH_OPTIONS_INIT, &o, "opts"));
        PVEC_RETURN_IF(o.flags != 0 || o.reserved != 0, PVEC_MISUSE,
                       "opts->flags and opts->reserved must be 0");
        // No database lock here: the search pins a snapshot and takes the lock only to sync.
        PVEC_CHECK_ARG(handle != nullptr, "collection handle is NULL");
        store::Collection &coll = *handle->coll;
        PVEC_RETURN_IF(dim != coll.dim(), PVEC_DIM,
                       "query has " + std::to_string(dim) + " components, the collection " +
                           std::to_string(coll.dim()));
        store::SearchSpec spec;
        spec.k = k;
        spec.threads = o.threads;
        spec.oversample = o.oversample;
        spec.rescore = o.rescore;
        spec.rescored = o.rescored;
        std::vector<pocketvec::search::Hit> hits;
        PVEC_FORWARD_IF_ERROR(coll.search(query, spec, &hits));
        for (std::size_t i = 0; i < hits.size(); ++i) {
            ids[i] = hits[i].id;
            if (scores) {
                scores[i] = hits[i].score;
            }
        }
        *n_found = hits.size();
        return Status::ok();
    });
}

int pvec_search_batch(pvec_collection *handle, const float *queries, size_t n_queries, size_t dim,
                      size_t k, const pvec_search_options *opts, int64_t *ids, float *scores,
                      size_t *n_found, char **errmsg) {
    if (n_found) {
        for (size_t i = 0; i < n_queries; ++i) {
            n_found[i] = 0;
        }
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(handle != nullptr, "collection handle is NULL");
        if (n_queries == 0) {
            return Status::ok();
        }
        PVEC_CHECK_ARG(queries != nullptr, "queries is NULL");
        PVEC_CHECK_ARG(ids != nullptr, "ids is NULL");
        PVEC_CHECK_ARG(n_found != nullptr, "n_found is NULL");
        pvec_search_options o;
        PVEC_FORWARD_IF_ERROR(
            read_options(opts, pvec_search_options PVEC_SEARCH_OPTIONS_INIT, &o, "opts"));
        PVEC_RETURN_IF(o.flags != 0 || o.reserved != 0, PVEC_MISUSE,
                       "opts->flags and opts->reserved must be 0");
        store::Collection &coll = *handle->coll;
        PVEC_RETURN_IF(dim != coll.dim(), PVEC_DIM,
                       "queries have " + std::to_string(dim) + " components, the collection " +
                           std::to_string(coll.dim()));
        PVEC_RETURN_IF(k != 0 && n_queries > SIZE_MAX / k, PVEC_RANGE, "n_queries x k overflows");
        PVEC_RETURN_IF(n_queries > SIZE_MAX / (dim * sizeof(float)), PVEC_RANGE,
                       "n_queries x dim overflows");
        store::SearchSpec spec;
        spec.k = k;
        spec.threads = o.threads;
        spec.oversample = o.oversample;
        spec.rescore = o.rescore;
        spec.rescored = o.rescored;
        std::vector<std::vector<pocketvec::search::Hit>> hits;
        PVEC_FORWARD_IF_ERROR(coll.search_batch(queries, n_queries, spec, &hits));
        for (std::size_t q = 0; q < n_queries; ++q) {
            for (std::size_t i = 0; i < hits[q].size(); ++i) {
                ids[q * k + i] = hits[q][i].id;
                if (scores) {
                    scores[q * k + i] = hits[q][i].score;
                }
            }
        }
        for (std::size_t q = 0; q < n_queries; ++q) {
            n_found[q] = hits[q].size();
        }
        return Status::ok();
    });
}

void pvec_train_options_init(pvec_train_options *opts) {
    if (opts) {
        *opts = pvec_train_options PVEC_TRAIN_OPTIONS_INIT;
    }
}

int pvec_collection_train(pvec_collection *handle, const pvec_train_options *opts_in,
                          char **errmsg) {
    return guarded_write(handle ? handle->owner : nullptr, errmsg, [&]() -> Status {
        pvec_train_options o;
        PVEC_FORWARD_IF_ERROR(
            read_options(opts_in, pvec_train_options PVEC_TRAIN_OPTIONS_INIT, &o, "opts"));
        const pvec_train_options *opts = &o;
        PVEC_LOCK_COLLECTION_FOR_WRITE(handle);
        store::TrainSpec spec;
        {
            if (opts->codec) {
                spec.codec = std::string(opts->codec, strnlen(opts->codec, 64));
            }
            if (opts->pca_dim == PVEC_PCA_NONE) {
                spec.pca_dim = 0;
            } else if (opts->pca_dim != PVEC_PCA_KEEP) {
                spec.pca_dim = opts->pca_dim;
            }
            if (opts->flags != 0) {
                PVEC_RETURN_IF((opts->flags & ~PVEC_COLLECTION_PCA_ROTATE) != 0, PVEC_INVALID,
                               "unknown flags");
                spec.flags = opts->flags;
            }
            spec.sample = opts->sample;
            spec.seed = opts->seed;
        }
        return coll.train(spec);
    });
}

int pvec_model_export(pvec_collection *handle, void **blob, size_t *size, char **errmsg) {
    if (blob) {
        *blob = nullptr;
    }
    if (size) {
        *size = 0;
    }
    return guarded(errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(blob != nullptr, "blob is NULL");
        PVEC_CHECK_ARG(size != nullptr, "size is NULL");
        PVEC_LOCK_COLLECTION(handle);
        std::vector<uint8_t> bytes;
        PVEC_FORWARD_IF_ERROR(coll.export_model(&bytes));
        void *p = std::malloc(bytes.size());
        PVEC_RETURN_IF(p == nullptr, PVEC_NOMEM, "out of memory");
        std::memcpy(p, bytes.data(), bytes.size());
        *blob = p;
        *size = bytes.size();
        return Status::ok();
    });
}

int pvec_model_import(pvec_collection *handle, const void *blob, size_t size, char **errmsg) {
    return guarded_write(handle ? handle->owner : nullptr, errmsg, [&]() -> Status {
        PVEC_CHECK_ARG(blob != nullptr, "blob is NULL");
        PVEC_LOCK_COLLECTION_FOR_WRITE(handle);
        return coll.import_model(static_cast<const uint8_t *>(blob), size);
    });
}

}  // extern "C"
