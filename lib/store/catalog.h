// The catalog: pvec_meta, pvec_collections and pvec_models, and the one place that names every
// per-collection table. Everything here runs inside the caller's transaction (read or write);
// nothing here caches file state.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/metric.h"
#include "common/status.h"
#include "model/model.h"
#include "store/sqlite_util.h"

namespace pocketvec::store {

// Format 6 (docs/format.md): raw vectors stored per chunk may be split into rows of a part of the
// chunk's slots (kFlagRawParts); format 5 stored chunk slots' code errors as bfloat16 and sum
// columns as signed 32-bit integers; format 4 gave chunks of collections flagged kFlagSlotErrors a per-slot code error;
// format 3 added a checksum on every record (store/checksum.h); format 2 collection uids and
// versions and chunk versions. Older formats are upgraded by store/upgrade.h.
constexpr uint32_t kFormatVersion = 6;

constexpr uint32_t kRawNone = 0;
constexpr uint32_t kRawZstdF32 = 1;  // zstd frame of the float32 vector
constexpr uint32_t kRawF32 = 2;      // the float32 vector as it is
constexpr uint32_t kRawF16 = 3;      // the vector as IEEE binary16 (round to nearest even)
constexpr uint32_t kRawLast = kRawF16;
constexpr uint32_t kTrainNever = 0xFFFFFFFFu;
constexpr uint32_t kFlagPcaRotate = 0x1u;
// The collection's chunks carry errs (store/chunk_format.h): set when a collection with a raw tier
// is trained (or imports a model) by format 4 code with codes exact mode can bound (f16, bf16,
// fp8, int8, int4; search::codes_bound_scores), cleared otherwise. Collections
// trained before format 4 lack it until they are trained again.
constexpr uint32_t kFlagSlotErrors = 0x2u;
// Raw vectors are stored per chunk (store/raw_chunks.h) in pvec_c<id>_rawchunks instead of one row
// per vector in pvec_c<id>_raw: set at creation by format 4 code for the fixed-size raw tiers
// (PVEC_RAW_F32, PVEC_RAW_F16), never changed after.
constexpr uint32_t kFlagRawChunks = 0x4u;
// With kFlagRawChunks: a chunk's raw vectors are split into rows of RawChunks::part_slots() slots
// each (row id chunk * kRawRowsPerChunk + part) instead of one row per chunk (row id = chunk), so
// that reading one slot walks a short overflow chain (store/raw_chunks.h). Set at creation by
// format 6 code, never changed after.
constexpr uint32_t kFlagRawParts = 0x8u;
constexpr uint32_t kKnownFlags = kFlagPcaRotate | kFlagSlotErrors | kFlagRawChunks | kFlagRawParts;

// One row of pvec_collections.
struct CollectionMeta {
    int64_t id = 0;       // rowid; names the tables; may be reused after a drop
    int64_t uid = 0;      // random, never reused: what identifies the collection
    int64_t version = 0;  // bumped by every committed write to the collection
    std::string name;
    uint32_t dim = 0;
    Metric metric = Metric::cosine;
    std::string codec = "f32";  // the codec codes use once trained
    uint32_t pca_dim = 0;       // 0 = none
    uint32_t raw_tier = kRawNone;
    uint32_t train_threshold = 0;  // 0 = max(1024, 2 * dim)
    uint32_t flags = 0;
    uint32_t chunk_capacity = 256;  // the most slots a chunk grows to
    uint32_t code_bytes = 0;        // of the codes now in the chunks
    int64_t model_id = 0;           // pvec_models row; 0 = no model: codes are exact float32
    uint32_t model_version = 0;     // 0 = no model
};

// PVEC_CORRUPT unless `m` is a definition this library can serve (what every row read from the
// file must be, and what an import or training may write).
Status validate_definition(const CollectionMeta &m);

// A random non-zero uid (SQLite's PRNG).
int64_t new_collection_uid();

namespace tables {
std::string items(int64_t id);     // pvec_c<id>_items
std::string chunks(int64_t id);    // pvec_c<id>_chunks
std::string versions(int64_t id);  // pvec_c<id>_versions
std::string raw(int64_t id);       // pvec_c<id>_raw
std::string raw_chunks(int64_t id);  // pvec_c<id>_rawchunks
}  // namespace tables

class Catalog {
public:
    explicit Catalog(sqlite3 *conn) : conn_(conn) {}

    // The row of collection `name` / rowid `id`; *found = false when there is none. A row that
    // cannot be a valid definition is PVEC_CORRUPT.
    Status read_by_name(const std::string &name, CollectionMeta *out, bool *found);
    Status read_by_id(int64_t id, CollectionMeta *out, bool *found);
    // Inserts the row (assigning id and a fresh uid) and creates the collection's tables.
    Status create(CollectionMeta *meta);
    // Drops the tables, the model and the row.
    Status drop(const CollectionMeta &meta);
    // Records one more committed change of the collection: meta->version + 1 in the file.
    Status bump_version(CollectionMeta *meta);
    // Stores `model` (null = none) as the collection's current model, with the codec fields of
    // `meta`, and bumps the version; sets meta->model_id / model_version.
    Status set_model(CollectionMeta *meta, const model::Model *model);
    // The current model of `meta` (null when meta->model_id == 0), checksum and definition
    // checked; sets meta->model_version.
    Status read_model(CollectionMeta *meta, std::shared_ptr<const model::Model> *out);
    Status list_names(std::vector<std::string> *names);
    // Every row, checked as a definition but not against its checksum (format upgrades).
    Status read_all_unsealed(std::vector<CollectionMeta> *out);
    // One message per catalog row that fails its checksum or is no valid definition; the rows
    // that pass into *good (when not null).
    Status find_damaged(std::vector<std::string> *damage,
                        std::vector<CollectionMeta> *good = nullptr);
    // Stores the row's checksum (after a change of any column the sum covers).
    Status write_sum(const CollectionMeta &meta);

private:
    Status read_row(Stmt &stmt, CollectionMeta *out, bool *found, const std::string &what);

    sqlite3 *conn_;
    Stmt by_name_, by_id_, bump_;
};

// Creates pocketvec's tables in a new file or upgrades a format 1 or 2 file to format 3 (inside
// the caller's write transaction; with may_write false it only checks). *format receives the
// file's format version (also when the call fails for it); a newer one is PVEC_FORMAT, an older
// one without may_write too.
Status create_or_upgrade_schema(sqlite3 *conn, bool may_write, bool *exists, int64_t *format);

}  // namespace pocketvec::store
