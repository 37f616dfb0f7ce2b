/*
 * pocketvec — an embedded vector store for edge devices.
 *
 * pocketvec keeps embeddings inside an ordinary SQLite database and answers nearest-neighbour
 * queries by scanning them from memory with SIMD kernels. This header is the whole public surface:
 * C99, usable from C and C++, includes only <stddef.h> and <stdint.h>.
 *
 * CONVENTIONS
 *
 * Errors. Every fallible function returns an int status: PVEC_OK (0) or one of the positive PVEC_*
 *   codes below, whose values are pinned forever (new codes are only appended). pvec_errstr(rc)
 *   gives static English text for any value. Most functions take a last parameter `char **errmsg`:
 *   pass NULL when you do not want details; otherwise, on failure *errmsg receives a message that
 *   you free with pvec_free(), and on success *errmsg is set to NULL. (This is sqlite3_exec's
 *   pattern: a per-handle "last error" would race when threads share a handle, and a thread-local
 *   one breaks when a runtime moves calls between threads.)
 *   A failed call changes nothing: no item, collection or file content is altered.
 *
 * NULL. Handles and required pointers must not be NULL; passing NULL returns PVEC_MISUSE (it never
 *   crashes). Parameters documented as optional accept NULL. Close/free functions accept NULL.
 *
 * Ownership. Handles are created through out-parameters (set to NULL on failure) and released by
 *   their close function. Results are written into caller buffers together with their capacity.
 *   Memory pocketvec allocates for the caller (messages, metadata, name lists) is released with
 *   pvec_free(). pocketvec never keeps a pointer to caller memory after a call returns.
 *
 * Options. Option structs start with `uint32_t struct_size`; initialise them with the *_INIT macro
 *   or the *_init() function, then set the fields you need. Fields are only ever appended; zero
 *   means "default"; passing NULL instead of a struct means all defaults. Any struct_size from the
 *   struct's first version (0.1) up to this library's is accepted: the fields the caller's version
 *   has are read, the others keep their defaults. A larger struct_size, from a caller built against
 *   a newer header, is accepted when every field this library does not know is zero; otherwise, or
 *   below the first version, PVEC_MISUSE. Output structs (pvec_collection_info) are written up to
 *   the caller's struct_size: fields this library does not know are set to zero, nothing past
 *   struct_size is touched.
 *
 * Threads. A pvec_db handle and the collection handles opened from it may be used from any thread.
 *   Searches run concurrently: with each other, and with a write on the same pvec_db (each search
 *   answers from a consistent state it pins at its start, without waiting for the write). Other
 *   calls on one pvec_db are serialised by its mutex. Writes through different pvec_db handles or
 *   processes are serialised by SQLite's file lock (PVEC_BUSY after the busy timeout).
 *   What a search sees: one committed state of the collection (never part of a commit, never
 *   another connection's uncommitted writes), at least as new as the last call on this pvec_db
 *   that finished before the search began, plus this pvec_db's own uncommitted writes inside its
 *   explicit transaction (like SQLite, a connection sees its own writes). While a write on the
 *   same pvec_db is running, a search may answer from the state before that write. Explicit
 *   transactions belong to the pvec_db, not to a thread: a transaction begun on one thread may be
 *   committed on another, and every thread using that pvec_db sees its uncommitted writes.
 *
 * Transactions and durability. Every write call is atomic: it is one SQLite transaction, or, inside
 *   an explicit transaction (pvec_db_begin), one savepoint. A committed write survives a crash or
 *   power loss as far as SQLite's journal guarantees (pocketvec never lowers `synchronous`). Writes
 *   that were not committed never show after a reopen, and a rolled-back write leaves no trace in
 *   search results. Searches on a handle see that handle's own uncommitted writes, like SQLite.
 *
 * Caveats: what stays in memory, what a call may do implicitly. A collection handle opened with
 *   pvec_collection_open keeps every chunk of the collection in RAM (codes, ids, norms: about
 *   code_bytes + 20 bytes per slot), shared by all such handles of the pvec_db and kept until the
 *   collection is dropped or the pvec_db closed; a streaming handle (pvec_collection_open_v2 with
 *   a memory_cap) keeps none and bounds what each search adds by its cap. A pvec_db_open
 *   connection maps up to 256 MiB of the file (its pages count in the resident set; streaming
 *   calls turn the map off while they read). A write call may train the collection (its
 *   train_threshold) and re-encode every item in the same call.
 *
 * Versioning and stability. PVEC_VERSION_* give the version of this header; pvec_version_number()
 *   that of the library actually linked. Everything declared here is stable within a major version:
 *   functions are never removed or changed, codes and enum values are only appended, and option
 *   structs only grow at their end. The database format carries its own version; a file written by
 *   a newer, incompatible pocketvec is refused with PVEC_FORMAT.
 */
#ifndef POCKETVEC_H
#define POCKETVEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(PVEC_BUILDING_LIBRARY)
#    define PVEC_API __declspec(dllexport)
#  else
#    define PVEC_API
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define PVEC_API __attribute__((visibility("default")))
#else
#  define PVEC_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

#define PVEC_VERSION_MAJOR 0
#define PVEC_VERSION_MINOR 1
#define PVEC_VERSION_PATCH 0
#define PVEC_VERSION_NUMBER (PVEC_VERSION_MAJOR * 10000 + PVEC_VERSION_MINOR * 100 + PVEC_VERSION_PATCH)
#define PVEC_VERSION_STRING "0.1.0"

/* The version of the linked library, as PVEC_VERSION_NUMBER / PVEC_VERSION_STRING would give it.
 * Any thread. The string is static. Since 0.1. */
PVEC_API uint32_t pvec_version_number(void);
PVEC_API const char *pvec_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes (pinned: values never change, new ones are appended)
 * ------------------------------------------------------------------------------------------- */

#define PVEC_OK 0         /* success */
#define PVEC_ERROR 1      /* an error with no more specific code (see errmsg) */
#define PVEC_MISUSE 2     /* NULL handle or pointer, bad struct_size, call in the wrong state */
#define PVEC_NOTFOUND 3   /* no such collection or item */
#define PVEC_EXISTS 4     /* a collection or item with that name or id already exists */
#define PVEC_DIM 5        /* vector length differs from the collection's dimension */
#define PVEC_RANGE 6      /* a number out of its allowed range (k = 0, dim = 0, ...) */
#define PVEC_NOMEM 7      /* out of memory */
#define PVEC_IO 8         /* the file could not be opened, read or written */
#define PVEC_CORRUPT 9    /* the file is not a database, or pocketvec's tables are damaged */
#define PVEC_BUSY 10      /* the database is locked by another connection, or handles are open */
#define PVEC_READONLY 11  /* a write on a read-only database */
#define PVEC_FORMAT 12    /* a newer pocketvec's file, or an older one's opened read-only */
#define PVEC_INVALID 13   /* an invalid value: NaN/Inf component, bad name, bad JSON, unknown codec */
#define PVEC_UNSUPPORTED 14 /* a valid request this collection or build cannot serve */

/* Static English text for a status code ("unknown status" for values not listed). Any thread.
 * Since 0.1. */
PVEC_API const char *pvec_errstr(int rc);

/* Frees memory pocketvec allocated for the caller (messages, metadata, name lists). NULL is a
 * no-op. Any thread. Since 0.1. */
PVEC_API void pvec_free(void *p);

/* The name of the SIMD kernel table in use, chosen once from the CPU: a level ("scalar", "sse2",
 * "avx2", "avx512", "neon"), then "+" and each CPU extension its kernels use ("avx512+vnni",
 * "avx512+vnni+vpopcntdq", "neon+dotprod"). The environment variable PVEC_SIMD forces one: a
 * level name (its best variant this CPU runs) or a full table name. A PVEC_SIMD this build or CPU
 * cannot honour (unknown, not compiled in, or needing instructions the CPU lacks) makes
 * pvec_db_open and pvec_db_attach fail with PVEC_UNSUPPORTED and a message naming the tables
 * that can run; this function then names the best table. Static string. Any thread. Since 0.1. */
PVEC_API const char *pvec_kernel_name(void);

/* ---------------------------------------------------------------------------------------------
 * Databases
 * ------------------------------------------------------------------------------------------- */

typedef struct pvec_db pvec_db;
typedef struct pvec_collection pvec_collection;

#define PVEC_OPEN_READONLY 0x1u /* open for reading only; every write returns PVEC_READONLY */
#define PVEC_OPEN_NOCREATE 0x2u /* fail with PVEC_IO instead of creating a missing file */
/* Switch the file to SQLite's write-ahead log (PRAGMA journal_mode=WAL, which stays with the
 * file): searches and reads of other connections and processes then never wait for a writer,
 * nor a writer for them. SQLite's WAL rules apply: -wal and -shm files beside the database, all
 * connections on one host. Durability is unchanged (pocketvec never lowers `synchronous`).
 * Since 0.1. */
#define PVEC_OPEN_WAL 0x4u

/* Encryption at rest (key_bytes, key below) needs a library built with -DPVEC_SQLCIPHER=ON, which
 * links SQLCipher instead of SQLite; pvec_db_open of a build without it, given a key, returns
 * PVEC_UNSUPPORTED and touches no file. With SQLCipher, every page of the database file is
 * encrypted, and so are its rollback journal and write-ahead log; what pocketvec and SQLite hold
 * in memory (the resident codes, the page cache, the derived key) is not. The key bytes are a
 * passphrase, stretched by SQLCipher's key derivation with a random salt kept in the file's first
 * 16 bytes; SQLCipher's raw-key form, the 67 bytes "x'" + 64 hex digits + "'", is used as the
 * 256-bit key itself, without derivation. Debian 12's SQLCipher 3.4.1 (SQLite 3.15.2) encrypts
 * with AES-256-CBC, authenticates each 1024-byte page with HMAC-SHA1 and derives the key with
 * PBKDF2-HMAC-SHA1, 64,000 iterations; files it writes are SQLCipher 3 files (SQLCipher 4 opens
 * them only with PRAGMA cipher_compatibility = 3). See README.md, "Encryption at rest". */
typedef struct pvec_open_options {
    uint32_t struct_size;     /* sizeof(pvec_open_options) */
    uint32_t flags;           /* PVEC_OPEN_* bits; 0 = read-write, create if missing */
    int32_t busy_timeout_ms;  /* wait this long for another connection's lock; 0 = 5000 ms,
                                 negative = do not wait */
    /* Appended after 0.1.0: a caller built against the 0.1.0 header passes struct_size 12 and
     * opens without a key, as before. */
    uint32_t key_bytes;       /* length of `key` in bytes; 0 = no key (a plain SQLite file) */
    const void *key;          /* the encryption key (any bytes, NUL allowed), key_bytes long, or
                                 NULL; set both or neither (else PVEC_MISUSE). Only read during
                                 pvec_db_open, never kept: the caller may wipe it on return.
                                 pvec_db_attach refuses a key (PVEC_MISUSE): key the
                                 application's connection itself. */
} pvec_open_options;

#define PVEC_OPEN_OPTIONS_INIT {sizeof(pvec_open_options), 0u, 0, 0u, NULL}
PVEC_API void pvec_open_options_init(pvec_open_options *opts);

/* Opens (or creates) the database file at `path` (UTF-8) and prepares pocketvec's tables in it.
 * `opts` is optional. On success *out is a new handle to close with pvec_db_close; on failure
 * *out is NULL.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_IO (cannot open/create), PVEC_CORRUPT (not a database or
 * damaged tables; also an encrypted file opened without its key or with a wrong one, and a plain
 * file opened with a key: SQLCipher cannot tell these apart from a file that is not a database,
 * so they share the code, and the message names the key), PVEC_FORMAT (newer format),
 * PVEC_READONLY (a new file with PVEC_OPEN_READONLY), PVEC_BUSY, PVEC_NOMEM, PVEC_UNSUPPORTED
 * (PVEC_SIMD names a kernel level that cannot run: see pvec_kernel_name; or opts->key given to a
 * build without SQLCipher). With opts->key, the key is applied (sqlite3_key_v2) right after
 * SQLite opens the file and checked by reading the schema before anything else reads or writes
 * it, so an open refused for its key (wrong, missing, unsupported) changes no file and, without
 * SQLCipher, creates none; a missing or empty file becomes a new encrypted database.
 * A new file gets 4 KiB pages (an encrypted file keeps SQLCipher's 1024-byte pages); an existing
 * file keeps its page size.
 * The connection reads the file through a memory map of up to 256 MiB
 * (SQLite's mmap_size; its pages count in the process's resident set but belong to the OS page
 * cache); writes go through SQLite's journal as without it. pvec_db_attach leaves the
 * application's connection's setting alone. A file of an older format (1 to 5: docs/format.md)
 * is upgraded to the current format (6) in one transaction when opened read-write, and refused
 * with PVEC_FORMAT when opened read-only.
 * Any thread. Since 0.1. */
PVEC_API int pvec_db_open(const char *path, const pvec_open_options *opts, pvec_db **out,
                          char **errmsg);

/* Uses the application's own open SQLite connection `conn` (a `sqlite3 *`): pocketvec's tables
 * live beside the application's, and the application may JOIN with them. The connection stays the
 * application's: pvec_db_close does not close it, and it must outlive the pvec_db. The
 * application may wrap pocketvec calls in its own transactions: its COMMIT keeps and its ROLLBACK
 * undoes their effect on the resident state as on the file (pocketvec installs the connection's
 * sqlite3_commit_hook and sqlite3_rollback_hook for this, replacing any the application set;
 * they are removed by pvec_db_close). The application must not write pocketvec's tables itself.
 * Only PVEC_OPEN_READONLY of opts->flags is used (the journal mode stays the application's).
 * Encryption is the application's too: with SQLCipher, key `conn` (sqlite3_key_v2 or PRAGMA key)
 * before this call; opts->key must be unset here (PVEC_MISUSE otherwise), since pocketvec never
 * keys a connection it does not own.
 * Returns as pvec_db_open. Any thread (SQLite's own threading mode of `conn` applies). Since 0.1. */
struct sqlite3;
PVEC_API int pvec_db_attach(struct sqlite3 *conn, const pvec_open_options *opts, pvec_db **out,
                            char **errmsg);

/* Closes a database handle. NULL is a no-op returning PVEC_OK. If collection handles from this
 * database are still open, nothing is closed and PVEC_BUSY is returned. An open explicit
 * transaction is rolled back. No other thread may use `db` during or after this call. Since 0.1. */
PVEC_API int pvec_db_close(pvec_db *db);

/* Explicit transactions: every write between pvec_db_begin and pvec_db_commit shares one commit
 * (much faster for many small writes). pvec_db_rollback undoes them all. Nested begin returns
 * PVEC_MISUSE; commit/rollback without a transaction return PVEC_MISUSE. A write call that fails
 * inside the transaction is undone on its own and leaves the transaction open, except when SQLite
 * itself rolls back the whole transaction (an I/O error, a full disk or no memory at the wrong
 * moment): then that call's message says so, nothing written since pvec_db_begin is kept, every
 * later write fails with PVEC_MISUSE, pvec_db_commit returns PVEC_ERROR and pvec_db_rollback
 * PVEC_OK, both ending the dead transaction. Closing the db rolls an open transaction back.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_ERROR (commit of a transaction SQLite rolled back),
 * PVEC_BUSY, PVEC_IO, PVEC_NOMEM, PVEC_READONLY (begin on a read-only db).
 * Any thread. Since 0.1. */
PVEC_API int pvec_db_begin(pvec_db *db, char **errmsg);
PVEC_API int pvec_db_commit(pvec_db *db, char **errmsg);
PVEC_API int pvec_db_rollback(pvec_db *db, char **errmsg);

/* Verifies everything pocketvec keeps in the file: SQLite's own structure (PRAGMA
 * integrity_check), then every catalog row, model, chunk slot, items row and raw vector against
 * its checksum, and that items rows and chunk slots point at each other one to one (and raw
 * vectors at items). Reads only: works on a read-only handle and changes no state. Runs in one
 * read transaction (inside an explicit transaction it sees that transaction's writes); other
 * calls on `db` wait while it runs (it reads the whole file).
 * Returns PVEC_OK when nothing is damaged, PVEC_CORRUPT when something is; *report (may be NULL)
 * then receives the findings as text, one per line (at most 1000 lines, then one saying how many
 * more were found), or "" when clean; free it with pvec_free. Also PVEC_MISUSE (db NULL),
 * PVEC_NOMEM, PVEC_IO, PVEC_BUSY. Any thread. Since 0.1. */
PVEC_API int pvec_db_check(pvec_db *db, char **report, char **errmsg);

/* ---------------------------------------------------------------------------------------------
 * Collections
 *
 * A collection holds vectors of one dimension under int64 ids, each with optional JSON metadata.
 * Names are UTF-8, 1 to 255 bytes, without NUL; any other bytes (quotes, semicolons, spaces) are
 * allowed: names are only ever bound as SQL parameters.
 * ------------------------------------------------------------------------------------------- */

#define PVEC_METRIC_COSINE 1 /* score = 1 - cos(q, x); a zero vector has cosine 0 with anything */
#define PVEC_METRIC_DOT 2    /* score = -(q . x), so that smaller is better like the others */
#define PVEC_METRIC_L2 3     /* score = Euclidean distance |q - x| */

#define PVEC_MAX_DIM 65536u
#define PVEC_MAX_NAME 255u

#define PVEC_RAW_NONE 0u     /* no raw tier: only the codes are kept */
#define PVEC_RAW_ZSTD_F32 1u /* keep each original vector, zstd-compressed float32, off the scan path:
                                one row per vector. Prefer PVEC_RAW_F32 or PVEC_RAW_F16, stored
                                per chunk since 0.2: zstd saves under 1% of an embedding's bytes
                                and its rows of 1-4 KiB pack into pages only partly (files 1.2-1.5x
                                those of PVEC_RAW_F32 for int8 codes, bench/RESULTS.md) */
#define PVEC_RAW_F32 2u      /* keep each original vector as float32, uncompressed (zstd saves
                                under 1% of an embedding's bytes and costs time on every write
                                and rescoring) */
#define PVEC_RAW_F16 3u      /* keep each vector as IEEE binary16: half the bytes; rescoring,
                                pvec_get and re-training then use the f16-rounded vector */

#define PVEC_COLLECTION_PCA_ROTATE 0x1u /* follow PCA with a seeded random orthogonal rotation
                                           (rabitq and rabitq2 always rotate: their estimates
                                           need it; without PCA their model holds a centring and
                                           a structured rotation of every dimension) */

#define PVEC_TRAIN_NEVER 0xFFFFFFFFu /* train_threshold: only pvec_collection_train trains */

typedef struct pvec_collection_options {
    uint32_t struct_size; /* sizeof(pvec_collection_options) */
    uint32_t dim;         /* required: 1 .. PVEC_MAX_DIM */
    uint32_t metric;      /* PVEC_METRIC_*; 0 = cosine */
    uint32_t reserved;    /* must be 0 */
    const char *codec;    /* code format: NULL or "f32" (exact), "f16", "bf16", "e4m3", "e5m2",
                             "int8", "int4", "binary", "rabitq" (1 bit per dimension, RaBitQ),
                             "rabitq2" (2 bits, extended RaBitQ; both with 4 bytes of per-vector
                             factors, see docs/format.md). Codecs other than f32/f16/bf16 need a trained
                             model; until the collection is trained it stores float32 and searches
                             exactly (see pvec_collection_train). */
    uint32_t pca_dim;     /* 0 = no PCA; else project to this many dimensions (< dim) at training */
    uint32_t raw_tier;    /* PVEC_RAW_NONE (default) or another PVEC_RAW_*: needed for exact
                             rescoring (search oversampling), re-training and codec changes */
    uint32_t train_threshold; /* train automatically at the end of the write call that brings the
                                 count to at least this; 0 = max(1024, 2 * dim); PVEC_TRAIN_NEVER */
    uint32_t flags;       /* PVEC_COLLECTION_* bits */
} pvec_collection_options;

#define PVEC_COLLECTION_OPTIONS_INIT {sizeof(pvec_collection_options), 0u, 0u, 0u, NULL, 0u, 0u, 0u, 0u}
PVEC_API void pvec_collection_options_init(pvec_collection_options *opts);

/* Creates a collection named `name` with `opts` (required: the dimension has no default). If `out`
 * is not NULL, *out receives an open handle to it (close with pvec_collection_close).
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_INVALID (bad name, unknown metric, codec, raw tier or flags),
 * PVEC_RANGE (dim, pca_dim not below dim, a codec whose codes would outweigh float32 at this
 * dimension: rabitq at dim 1, rabitq2 at dim 2), PVEC_EXISTS, PVEC_READONLY, PVEC_BUSY, PVEC_IO,
 * PVEC_NOMEM. Any thread. Since 0.1. */
PVEC_API int pvec_collection_create(pvec_db *db, const char *name,
                                    const pvec_collection_options *opts, pvec_collection **out,
                                    char **errmsg);

/* Opens the collection `name`; *out is a handle to close with pvec_collection_close. Opening the
 * same collection twice gives two handles on one shared resident copy: every chunk of the
 * collection is loaded into memory at the first open and kept in step with the file (the
 * "resident" mode; see pvec_collection_open_v2 for a streaming one).
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND, PVEC_CORRUPT, PVEC_NOMEM. Any thread. Since 0.1. */
PVEC_API int pvec_collection_open(pvec_db *db, const char *name, pvec_collection **out,
                                  char **errmsg);

typedef struct pvec_collection_open_options {
    uint32_t struct_size; /* sizeof(pvec_collection_open_options) */
    uint32_t flags;       /* reserved, must be 0 */
    uint64_t memory_cap;  /* 0 = resident (pvec_collection_open's mode). Otherwise streaming: the
                             handle holds no chunks, and each search reads them from the file
                             through a window of at most this many bytes; see below. */
} pvec_collection_open_options;

#define PVEC_COLLECTION_OPEN_OPTIONS_INIT {sizeof(pvec_collection_open_options), 0u, 0u}
PVEC_API void pvec_collection_open_options_init(pvec_collection_open_options *opts);

/* Opens the collection `name` as pvec_collection_open does, with options (`opts` optional: NULL
 * or memory_cap = 0 is pvec_collection_open exactly).
 * Streaming (memory_cap > 0), for collections larger than the memory a device can spare: the
 * handle is its own, never shares or loads the resident copy (a resident handle on the same
 * collection may coexist; neither affects the other). Every search reads the collection's chunks
 * from the file in chunk order, a window at a time, checks each chunk's checksums as a resident
 * load does (a damaged chunk fails the search with PVEC_CORRUPT; no answer comes from it),
 * scans the window with the same kernels and merges the windows' candidates under the same order,
 * so ids and scores are exactly those of a resident search of the same state (also with
 * oversampling, PVEC_RESCORE_RAW / AUTO and PVEC_RESCORE_EXACT, and for pvec_search_batch, which
 * reads the chunks once for all its queries; an exact search whose first scan did not settle the
 * answer reads the file again for that query, as a resident one scans again).
 * What memory_cap bounds: the chunks a search holds (each chunk's slot columns and codes, about
 * 5 KiB + 256 x code_bytes), the one chunk blob SQLite reads while a chunk is decoded, and the
 * growth of the connection's page cache up to its bound (PRAGMA cache_size; SQLite's default is
 * 2000 KiB). Not counted: a selection of k x r candidates per query (24 bytes each;
 * PVEC_RESCORE_EXACT keeps max(64, 8 k), and more with their slots' bounds) and, for exact
 * float32 scans, up to 2 k vectors per query. On glibc the heap's free pages are given back after
 * each window of 1 MiB or more (malloc_trim), so that the process's resident set, not only what
 * pocketvec counts, stays within the cap. The search reads the file with the
 * connection's memory map turned off (PRAGMA mmap_size = 0 for its duration, the previous value
 * restored after, also on an attached connection), so mapped file pages do not add to the
 * process's resident set.
 * A memory_cap below one chunk's need (pvec_collection_info.min_memory_cap: the page cache bound
 * plus one chunk plus one blob: 2.39 MiB for 384 int8 dimensions at SQLite's default cache)
 * returns PVEC_RANGE here, and from a later search when training raised the need above it.
 * What a search sees is the same as in resident mode (see "Threads"): one committed state, plus
 * this pvec_db's own uncommitted writes inside its transaction; other connections' commits are
 * visible at the next search. Limits of a streaming handle: a search holds the pvec_db's mutex
 * while it reads (searches and other calls on the same pvec_db wait for it, unlike resident
 * searches); pvec_add, pvec_upsert, their batch forms, pvec_delete, pvec_collection_train and
 * pvec_model_import return PVEC_UNSUPPORTED (write through a resident handle: a streaming handle
 * sees those writes at its next search); pvec_get reads the item's row and its one chunk (a
 * missing row is PVEC_NOTFOUND: unlike a resident handle it does not look through every chunk for
 * an id whose row was lost to damage; pvec_db_check does); pvec_count and
 * pvec_collection_info_get read the items and chunks tables (no chunk blob) at every call. Each
 * search reads the whole collection from the file: it runs at the file's read speed (400,000 x 384
 * int8 in about 0.4 s on our test machine, against 14 ms resident; bench/RESULTS.md).
 * Returns PVEC_OK, PVEC_MISUSE (NULL db, name or out; struct_size; flags not 0), PVEC_INVALID
 * (bad name), PVEC_NOTFOUND, PVEC_RANGE (memory_cap below min_memory_cap), PVEC_CORRUPT, PVEC_BUSY,
 * PVEC_IO, PVEC_NOMEM. Any thread. Since 0.2. */
PVEC_API int pvec_collection_open_v2(pvec_db *db, const char *name,
                                     const pvec_collection_open_options *opts,
                                     pvec_collection **out, char **errmsg);

/* Releases a collection handle (NULL is a no-op). Pending writes of an explicit transaction are
 * not affected. Since 0.1. */
PVEC_API void pvec_collection_close(pvec_collection *coll);

/* Deletes the collection `name` with all its items. Handles still open on it then return
 * PVEC_NOTFOUND from every call except pvec_collection_close.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND, PVEC_READONLY, PVEC_BUSY, PVEC_IO. Since 0.1. */
PVEC_API int pvec_collection_drop(pvec_db *db, const char *name, char **errmsg);

/* Lists collection names in name order. *names receives an array of *count NUL-terminated
 * strings, all in one allocation: free it with one pvec_free(*names). With no collections *names
 * is NULL and *count 0. Returns PVEC_OK, PVEC_MISUSE, PVEC_IO, PVEC_NOMEM. Since 0.1. */
PVEC_API int pvec_collection_list(pvec_db *db, char ***names, size_t *count, char **errmsg);

typedef struct pvec_collection_info {
    uint32_t struct_size;  /* set by the caller to sizeof(pvec_collection_info) */
    uint32_t dim;
    uint32_t metric;       /* PVEC_METRIC_* */
    uint32_t code_bytes;   /* bytes of one stored code: dim' x bits / 8 rounded up (f32 while
                              untrained) */
    uint64_t count;        /* live items */
    uint64_t capacity;     /* slots allocated in the file (live + free) */
    uint64_t bytes_used;   /* bytes of pocketvec's tables for this collection in the file
                              (measured once per change of the collection, then cached; with
                              an SQLite without the dbstat table, such as SQLCipher 3.4.1's,
                              the bytes of its chunks, raw vectors and metadata) */
    int64_t collection_id; /* the integer id naming this collection's tables (pvec_c<id>_*) */
    char codec[16];        /* NUL-terminated codec name, e.g. "f32" */
    char name[PVEC_MAX_NAME + 1];
    uint32_t trained;      /* 1 when codes use the trained model, 0 while vectors are kept as f32 */
    uint32_t code_dim;     /* dimensions after PCA (= dim without PCA) */
    uint32_t raw_tier;     /* PVEC_RAW_* */
    uint32_t model_version;/* increases with every training or import; 0 = untrained */
    /* Appended in 0.2: a caller built against the 0.1 header passes the smaller struct_size and
     * gets the fields above only. */
    uint64_t memory_cap;   /* the handle's streaming cap (pvec_collection_open_v2); 0 = resident */
    uint64_t min_memory_cap; /* the smallest memory_cap a streaming handle on this collection
                                accepts now (it grows with the code size: training may raise it) */
} pvec_collection_info;

/* Fills *info (whose struct_size the caller sets) for `coll`.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND (dropped), PVEC_IO. Since 0.1. */
PVEC_API int pvec_collection_info_get(pvec_collection *coll, pvec_collection_info *info,
                                      char **errmsg);

/* ---------------------------------------------------------------------------------------------
 * Items
 *
 * Vectors are `dim` floats, all finite, with an L2 norm of at most 2^62 (beyond it scores would
 * overflow float): otherwise PVEC_INVALID. Metadata is optional JSON text (any JSON value), stored
 * as given; invalid JSON returns PVEC_INVALID, more than 1 MiB PVEC_RANGE.
 * ------------------------------------------------------------------------------------------- */

/* Adds one item. PVEC_EXISTS if `id` is already present (nothing changes).
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND (dropped collection), PVEC_DIM, PVEC_INVALID,
 * PVEC_RANGE (metadata over 1 MiB), PVEC_EXISTS, PVEC_READONLY, PVEC_BUSY, PVEC_IO, PVEC_NOMEM,
 * PVEC_CORRUPT. Since 0.1. */
PVEC_API int pvec_add(pvec_collection *coll, int64_t id, const float *vec, size_t dim,
                      const char *meta_json, char **errmsg);

/* Adds one item or replaces the vector and metadata of an existing `id` (NULL metadata clears it).
 * Returns as pvec_add, without PVEC_EXISTS. Since 0.1. */
PVEC_API int pvec_upsert(pvec_collection *coll, int64_t id, const float *vec, size_t dim,
                         const char *meta_json, char **errmsg);

/* Adds (or, for the upsert form, adds or replaces) `n` items in one transaction: all or nothing.
 * `vecs` holds n * dim floats, row after row; `metas` is optional (NULL = no metadata), else n
 * pointers, each optional. An id repeated inside the batch is PVEC_EXISTS for pvec_add_batch; for
 * pvec_upsert_batch the last occurrence wins. Returns as pvec_add. Since 0.1. */
PVEC_API int pvec_add_batch(pvec_collection *coll, size_t n, const int64_t *ids, const float *vecs,
                            size_t dim, const char *const *metas, char **errmsg);
PVEC_API int pvec_upsert_batch(pvec_collection *coll, size_t n, const int64_t *ids,
                               const float *vecs, size_t dim, const char *const *metas,
                               char **errmsg);

/* Deletes item `id`; its slot is reused by later adds.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND (no such item or dropped collection), PVEC_READONLY,
 * PVEC_BUSY, PVEC_IO. Since 0.1. */
PVEC_API int pvec_delete(pvec_collection *coll, int64_t id, char **errmsg);

/* Reads item `id`. `vec` (optional) receives `dim` floats: exactly the vector given for f32
 * collections, untrained ones and those with a raw tier; otherwise the vector reconstructed from its
 * code (decoded, mapped back through PCA, scaled to its original norm under cosine). `meta_json` (optional) receives a copy of the
 * metadata to free with pvec_free, or NULL when the item has none.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND, PVEC_DIM (dim differs, when vec is given), PVEC_IO,
 * PVEC_NOMEM. Since 0.1. */
PVEC_API int pvec_get(pvec_collection *coll, int64_t id, float *vec, size_t dim, char **meta_json,
                      char **errmsg);

/* The number of live items, from the resident state (constant time once it is up to date with
 * the file). Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND (dropped), PVEC_BUSY, PVEC_IO,
 * PVEC_CORRUPT. Since 0.1. */
PVEC_API int pvec_count(pvec_collection *coll, uint64_t *count, char **errmsg);

/* ---------------------------------------------------------------------------------------------
 * Search
 * ------------------------------------------------------------------------------------------- */

typedef struct pvec_search_options {
    uint32_t struct_size; /* sizeof(pvec_search_options) */
    uint32_t flags;       /* reserved, must be 0 */
    uint32_t threads;     /* threads one search may use (at most 8); 0 = one per hardware thread;
                             1 = the calling thread only. A search splits its scan into at most
                             that many ranges, each of at least 2 MiB of codes, run on a
                             process-wide pool of threads started on first use (never per
                             search). While another search uses the pool, a search runs on its
                             calling thread alone. Results are identical for every value. */
    uint32_t oversample;  /* r: the code scan keeps k x r candidates for rescoring; 0 or 1 = none */
    uint32_t rescore;     /* PVEC_RESCORE_*: where candidates are rescored from */
    uint32_t reserved;    /* must be 0 (since 0.2; keeps the next field 8-byte aligned) */
    uint64_t *rescored;   /* optional out (NULL: not wanted): set on PVEC_OK to the number of raw
                             vectors the call read for rescoring, summed over a batch's queries
                             (0 when nothing was rescored). Since 0.2; older callers' smaller
                             struct_size leaves it NULL. */
} pvec_search_options;

#define PVEC_RESCORE_AUTO 0u /* the raw tier when the collection has one and r > 1, else none */
#define PVEC_RESCORE_NONE 1u /* keep the code scores (r is then ignored) */
#define PVEC_RESCORE_RAW 2u  /* the raw tier, exact scores; PVEC_UNSUPPORTED without one */
/* Exact results from codes (since 0.2): exactly the k items with the best scores computed from the
 * raw tier (the f32 brute-force answer; with PVEC_RAW_F16, the answer over the binary16-rounded
 * vectors), ties by the smaller id, whatever r. Every code slot stores a bound on how far its code
 * is from the raw vector (format 4); the scan's scores then bound every item's exact score, and
 * candidates are rescored in order of their bounds until none left can beat the k-th exact score
 * (`rescored` tells how many: typically 1-4 x k for int8, f16, bf16; int4 and e5m2 bounds are
 * looser and read many more; see docs/search.md). Collections without a model are searched
 * exactly anyway (rescored = 0). PVEC_UNSUPPORTED for a trained collection without a raw tier,
 * for binary, rabitq and rabitq2 codes (their scan scores are a rank or an estimate without a
 * stored bound: use PVEC_RESCORE_RAW with r), and for collections trained before format 4
 * (train them again). */
#define PVEC_RESCORE_EXACT 3u

#define PVEC_SEARCH_OPTIONS_INIT {sizeof(pvec_search_options), 0u, 0u, 0u, 0u, 0u, NULL}
PVEC_API void pvec_search_options_init(pvec_search_options *opts);

/* Finds the k items nearest to `query` (dim finite floats) by the collection's metric. Writes
 * *n_found = min(k, count) results into ids[0..] and scores[0..] (scores optional, may be NULL),
 * best (smallest score) first; equal scores are ordered by the smaller id. Both arrays need room
 * for min(k, item count) entries; nothing beyond *n_found is written, so a huge k is safe.
 * Collections without a trained model (f32, or not yet trained) give exact results: the scan runs
 * in float, the final ranking and the scores are computed in double. Trained collections scan
 * their codes: scores are then approximate (for binary codes a Hamming-based rank score, not a
 * distance; int8 and int4 codes are scored against the query rounded to 12-bit integer weights,
 * so their scores also carry that rounding) unless candidates are rescored from the raw tier
 * (opts->oversample, opts->rescore), which makes the returned scores exact for the candidates
 * found. The results are the same at every kernel level. `opts` is optional.
 * Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND (dropped), PVEC_DIM, PVEC_INVALID (NaN/Inf in the
 * query, unknown rescore), PVEC_RANGE (k = 0), PVEC_UNSUPPORTED (PVEC_RESCORE_RAW without a raw
 * tier; PVEC_RESCORE_EXACT where it is not available), PVEC_CORRUPT (a damaged raw vector),
 * PVEC_IO, PVEC_NOMEM. Any thread, concurrently
 * with other searches and with a write on the same pvec_db (see "Threads"); rescoring from the
 * raw tier reads the file under the pvec_db's mutex. On a streaming handle (pvec_collection_open_v2)
 * the whole search reads the file under that mutex, and may also return PVEC_CORRUPT for a damaged
 * chunk and PVEC_RANGE when the collection's chunks outgrew the handle's memory_cap. Since 0.1. */
PVEC_API int pvec_search(pvec_collection *coll, const float *query, size_t dim, size_t k,
                         const pvec_search_options *opts, int64_t *ids, float *scores,
                         size_t *n_found, char **errmsg);

/* pvec_search for n_queries queries at once (`queries`: n_queries x dim floats, row-major): a
 * trained collection's codes are scanned once for all of them (each block is scored for every
 * query while it is in cache), and every query answers from the same state of the collection.
 * Query i's results go to ids[i * k ...] and scores[i * k ...] (scores optional), n_found[i] of
 * them, exactly what pvec_search(query i) would return; so ids (and scores) need room for
 * n_queries x k entries and n_found for n_queries. n_queries = 0 is PVEC_OK with nothing written.
 * Exact (untrained f32) collections run the queries one after another on the pinned state.
 * Returns as pvec_search, and PVEC_RANGE when n_queries x k overflows size_t; on an error no
 * result counts are set beyond zeros. Any thread, as pvec_search. Since 0.1. */
PVEC_API int pvec_search_batch(pvec_collection *coll, const float *queries, size_t n_queries,
                               size_t dim, size_t k, const pvec_search_options *opts,
                               int64_t *ids, float *scores, size_t *n_found, char **errmsg);

/* ---------------------------------------------------------------------------------------------
 * Training and models
 *
 * A collection created with a codec other than f32 keeps float32 vectors and searches exactly
 * until it is trained. Training fits the model (optional PCA, then the codec's parameters) on a
 * sample of the collection's vectors and re-encodes every item in one transaction. The model is
 * stored in the database (table pvec_models), versioned and checksummed.
 * ------------------------------------------------------------------------------------------- */

#define PVEC_PCA_KEEP 0u           /* pvec_train_options.pca_dim: the collection's setting */
#define PVEC_PCA_NONE 0xFFFFFFFFu  /* pvec_train_options.pca_dim: no PCA */

typedef struct pvec_train_options {
    uint32_t struct_size; /* sizeof(pvec_train_options) */
    uint32_t pca_dim;     /* PVEC_PCA_KEEP, PVEC_PCA_NONE, or the number of dimensions to keep */
    const char *codec;    /* NULL = the collection's codec; another name switches codec */
    uint32_t sample;      /* vectors to fit on; 0 = up to 16384 (spread evenly over the items) */
    uint32_t flags;       /* PVEC_COLLECTION_PCA_ROTATE, or 0 = the collection's flags */
    uint64_t seed;        /* seed of the rotation; 0 = a fixed default */
} pvec_train_options;

#define PVEC_TRAIN_OPTIONS_INIT {sizeof(pvec_train_options), 0u, NULL, 0u, 0u, 0u}
PVEC_API void pvec_train_options_init(pvec_train_options *opts);

/* Trains (or re-trains) the collection's model and re-encodes every item, in one transaction.
 * An untrained collection trains on its float32 vectors; a trained one needs the raw tier (its
 * codes are lossy) and otherwise returns PVEC_UNSUPPORTED. A collection with no items returns
 * PVEC_RANGE. rabitq and rabitq2 need at least two items and codes no larger than float32's
 * (4 x dim bytes; without PCA: dim >= 2 for rabitq, >= 3 for rabitq2): PVEC_RANGE otherwise,
 * nothing changed.
 * `opts` is optional. Returns PVEC_OK, PVEC_MISUSE, PVEC_NOTFOUND, PVEC_INVALID
 * (unknown codec), PVEC_RANGE (pca_dim, empty, too few items or dimensions for the codec),
 * PVEC_UNSUPPORTED, PVEC_READONLY, PVEC_BUSY, PVEC_IO, PVEC_NOMEM. Since 0.1. */
PVEC_API int pvec_collection_train(pvec_collection *coll, const pvec_train_options *opts,
                                   char **errmsg);

/* Exports the collection's trained model as one self-describing, checksummed blob: *blob (free
 * with pvec_free) of *size bytes. PVEC_NOTFOUND when the collection is not trained. Since 0.1. */
PVEC_API int pvec_model_export(pvec_collection *coll, void **blob, size_t *size, char **errmsg);

/* Installs a model exported from any pocketvec database (same dim and metric) and re-encodes every
 * item with it, in one transaction, without fitting anything: the same vectors then give the same
 * codes and the same search results as in the database the model came from. Needs the raw tier
 * when the collection is already trained. Returns PVEC_OK, PVEC_MISUSE, PVEC_CORRUPT (damaged or
 * checksum mismatch), PVEC_FORMAT (newer model version), PVEC_DIM, PVEC_INVALID (other metric),
 * PVEC_UNSUPPORTED, PVEC_READONLY, PVEC_BUSY, PVEC_IO, PVEC_NOMEM. Since 0.1. */
PVEC_API int pvec_model_import(pvec_collection *coll, const void *blob, size_t size,
                               char **errmsg);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* POCKETVEC_H */
