// pocketvec import DB NAME FILE [--format F] [--create [--metric M]] [--start-id N] [--batch N]
#include <algorithm>
#include <filesystem>

#include "cli.h"
#include "commands.h"
#include "readers.h"

#include <chrono>
#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec import DB NAME FILE [--format fvecs|npy|jsonl] [--create [--metric M]]\n"
    "                        [--start-id N] [--batch N] [--upsert]\n"
    "\n"
    "Adds the vectors of FILE to the collection NAME of database DB, all in one transaction: if\n"
    "any row is bad, nothing is imported.\n"
    "\n"
    "Formats (guessed from the extension .fvecs, .npy, .jsonl/.ndjson unless --format is given):\n"
    "  fvecs   per row an int32 dimension and that many float32 (little-endian)\n"
    "  npy     a 2-D NumPy array of float32 ('<f4') or float64 ('<f8', converted), C order\n"
    "  jsonl   one JSON object per line: \"embedding\": [numbers], an optional integer \"id\";\n"
    "          every other key becomes the item's metadata object. Blank lines are skipped.\n"
    "Item ids are START + row (0-based row or record number) unless a JSONL record has an id.\n"
    "\n"
    "  --format F     input format, overriding the extension\n"
    "  --create       create the collection with the file's dimension if it does not exist\n"
    "  --metric M     metric of a collection made by --create: cosine (default), dot, l2\n"
    "  --start-id N   id of the first row (default 0)\n"
    "  --batch N      rows per pvec_add_batch call (default 10000)\n"
    "  --upsert       replace items whose id exists (default: an existing id is an error)\n";

constexpr uint64_t kDefaultBatch = 10000;

// Opens NAME, or with --create makes it with the file's dimension. Checks that the dimension and
// the requested metric agree with an existing collection before anything is written.
// *created tells whether --create made it.
CollectionHandle open_or_create(pvec_db *db, const std::string &name, size_t file_dim, bool create,
                                const std::optional<uint32_t> &metric, bool *created) {
    pvec_collection *raw = nullptr;
    const PvecStatus status =
        pvec_try([&](char **err) { return pvec_collection_open(db, name.c_str(), &raw, err); });
    CollectionHandle coll(raw);
    if (status.rc == PVEC_NOTFOUND) {
        if (!create) {
            throw ToolError("no collection named '" + name +
                            "' in this database (add --create to create it)");
        }
        if (file_dim == 0) {
            throw ToolError("the file holds no vectors, so there is no dimension to create '" +
                            name + "' with");
        }
        pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
        opts.dim = static_cast<uint32_t>(file_dim);
        opts.metric = metric.value_or(PVEC_METRIC_COSINE);
        pvec_check("cannot create collection '" + name + "'", [&](char **err) {
            return pvec_collection_create(db, name.c_str(), &opts, &raw, err);
        });
        coll.reset(raw);
        *created = true;
        return coll;
    }
    if (!status.ok()) {
        throw_status("cannot open collection '" + name + "'", status);
    }
    const pvec_collection_info info = collection_info(coll.get());
    if (file_dim != 0 && info.dim != file_dim) {
        throw ToolError(strprintf("the file has dimension %zu, collection '%s' has %u", file_dim,
                                  name.c_str(), info.dim));
    }
    if (metric && *metric != info.metric) {
        throw ToolError(strprintf("collection '%s' exists with metric %s, not %s", name.c_str(),
                                  metric_name(info.metric), metric_name(*metric)));
    }
    return coll;
}

} // namespace

int run_import(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--format", true},
                           {"--create", false},
                           {"--metric", true},
                           {"--start-id", true},
                           {"--batch", true},
                           {"--upsert", false}});
    args.expect_positionals(3, 3, "DB NAME FILE");
    const std::string &path = args.positionals()[0];
    const std::string &name = args.positionals()[1];
    const std::string &file = args.positionals()[2];

    std::optional<InputFormat> format;
    if (const std::optional<std::string> f = args.value("--format")) {
        format = format_from_name(*f);
        if (!format) {
            throw UsageError("unknown format '" + *f + "' (use fvecs, npy or jsonl)");
        }
    } else {
        format = format_from_extension(file);
        if (!format) {
            throw UsageError("cannot tell the format of '" + file +
                             "' from its extension; give --format fvecs|npy|jsonl");
        }
    }
    const bool create = args.has("--create");
    std::optional<uint32_t> metric;
    if (const std::optional<std::string> m = args.value("--metric")) {
        if (!create) {
            throw UsageError("--metric applies only with --create");
        }
        metric = parse_metric(*m);
    }
    const int64_t start_id = args.signed_or("--start-id", 0);
    const size_t batch_rows = args.unsigned_or("--batch", kDefaultBatch, 1, 10'000'000);

    // The file is checked before the database is touched, so a wrong path creates nothing.
    std::unique_ptr<VectorReader> reader = open_reader(*format, file, start_id);
    const size_t dim = reader->dim();

    DbHandle db = open_db(path, create ? 0u : PVEC_OPEN_NOCREATE);
    Progress progress(stderr_is_terminal());
    // Rows to expect, from the file size, for the progress line (fvecs rows carry a 4-byte
    // dimension; npy's header is small against its rows; JSONL rows have no fixed size).
    uint64_t expected = 0;
    if (dim > 0 && *format != InputFormat::kJsonl) {
        std::error_code ec;
        const auto bytes = std::filesystem::file_size(file, ec);
        if (!ec) {
            expected = bytes / (dim * 4 + (*format == InputFormat::kFvecs ? 4 : 0));
        }
    }
    const auto start = std::chrono::steady_clock::now();
    uint64_t total = 0;
    bool created = false;
    {
        // One transaction around everything, the collection made by --create included: a bad
        // row anywhere in the file leaves the database exactly as it was.
        Transaction tx(db.get());
        CollectionHandle coll = open_or_create(db.get(), name, dim, create, metric, &created);
        ImportBatch batch;
        std::vector<const char *> metas;
        while (true) {
            batch.clear();
            if (reader->read(batch_rows, batch) == 0) {
                break;
            }
            const bool with_meta = batch.has_meta();
            metas.clear();
            if (with_meta) {
                for (const auto &m : batch.metas) {
                    metas.push_back(m ? m->c_str() : nullptr);
                }
            }
            const bool upsert = args.has("--upsert");
            const PvecStatus status = pvec_try([&](char **err) {
                return (upsert ? pvec_upsert_batch : pvec_add_batch)(
                    coll.get(), batch.size(), batch.ids.data(), batch.vectors.data(), dim,
                    with_meta ? metas.data() : nullptr, err);
            });
            if (!status.ok()) {
                std::string message =
                    describe(strprintf("rows %llu..%llu not added",
                                       static_cast<unsigned long long>(total),
                                       static_cast<unsigned long long>(total + batch.size() - 1)),
                             status) +
                    "; nothing was imported";
                if (status.rc == PVEC_EXISTS) {
                    message += " (ids must be new: see --start-id)";
                }
                throw ToolError(message);
            }
            total += batch.size();
            progress.update("imported", total, std::max<uint64_t>(expected, total));
        }
        progress.finish();
        coll.reset();
        tx.commit();
    }
    const double seconds = seconds_since(start);
    close_db(db);

    if (created) {
        std::printf("created collection '%s': dim %zu, metric %s\n", name.c_str(), dim,
                    metric_name(metric.value_or(PVEC_METRIC_COSINE)));
    }
    if (total == 0) {
        std::printf("'%s' holds no vectors; nothing imported\n", file.c_str());
    } else {
        std::printf("imported %llu vector%s (dim %zu, %s) into '%s' in %.2f s (%.0f vectors/s)\n",
                    static_cast<unsigned long long>(total), total == 1 ? "" : "s", dim,
                    format_name(*format), name.c_str(), seconds,
                    seconds > 0 ? static_cast<double>(total) / seconds : 0.0);
    }
    return kExitOk;
}

} // namespace pocketvec::tool
