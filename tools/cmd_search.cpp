// pocketvec search DB NAME (--vector JSON | --fvecs FILE --row N | --queries FILE) [-k K]
//                  [--oversample N] [--rescore auto|none|raw|exact] [--memory-cap BYTES] [--json]
#include "cli.h"
#include "commands.h"
#include "json_parse.h"
#include "json_writer.h"
#include "readers.h"

#include <algorithm>
#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec search DB NAME (--vector \"[0.1, 0.2, ...]\" | --fvecs FILE --row N |\n"
    "                        --queries FILE [--format fvecs|npy|jsonl]) [-k K]\n"
    "                        [--oversample N] [--rescore auto|none|raw|exact]\n"
    "                        [--memory-cap BYTES] [--json]\n"
    "\n"
    "Finds the K items of collection NAME nearest to a query vector and prints rank, id, score\n"
    "(smaller is nearer: 1 - cosine, -dot, or the Euclidean distance) and metadata.\n"
    "\n"
    "  --vector JSON   the query as a JSON array of numbers\n"
    "  --fvecs FILE    take the query from an fvecs file ...\n"
    "  --row N         ... at row N (0-based)\n"
    "  --queries FILE  answer every query of a file (fvecs, npy or JSONL with \"embedding\"),\n"
    "                  one process, one JSON line per query: {\"query\": i, \"ids\": [...],\n"
    "                  \"scores\": [...]}\n"
    "  -k K            number of results (default 10)\n"
    "  --oversample N  trained collections: keep K x N candidates from the codes and rescore\n"
    "                  them (default 1: no rescoring)\n"
    "  --rescore M     auto (rescore from the raw tier when oversampling and the collection has\n"
    "                  one), none, raw (require the raw tier), or exact (the exact answer from\n"
    "                  the codes and the raw tier, whatever --oversample; PVEC_RESCORE_EXACT)\n"
    "  --memory-cap B  streaming mode: read the chunks from the file through at most B bytes\n"
    "                  instead of loading the collection (pvec_collection_open_v2; same results)\n"
    "  --json          print a JSON array of {\"id\", \"score\", \"meta\"}\n";

constexpr uint64_t kDefaultK = 10;
constexpr uint64_t kMaxK = 1'000'000;

std::vector<float> query_from_args(const Args &args) {
    const bool by_vector = args.has("--vector");
    const bool by_file = args.has("--fvecs");
    if (by_vector == by_file) {
        throw UsageError("give exactly one of --vector, --fvecs FILE --row N or --queries FILE");
    }
    if (by_vector) {
        if (args.has("--row")) {
            throw UsageError("--row goes with --fvecs");
        }
        const std::string text = *args.value("--vector");
        JsonParser parser;
        try {
            return parser.parse_vector(text);
        } catch (const JsonInputError &e) {
            throw UsageError(std::string("--vector: ") + e.what());
        }
    }
    if (!args.has("--row")) {
        throw UsageError("--fvecs needs --row N");
    }
    const size_t row = args.unsigned_or("--row", 0, 0, UINT64_MAX);
    return read_fvecs_row(*args.value("--fvecs"), row);
}

struct Hit {
    int64_t id;
    float score;
    std::optional<std::string> meta;
};

pvec_search_options search_options(const Args &args) {
    pvec_search_options o = PVEC_SEARCH_OPTIONS_INIT;
    o.oversample = static_cast<uint32_t>(args.unsigned_or("--oversample", 1, 1, 1u << 20));
    const std::string rescore = args.value("--rescore").value_or("auto");
    if (rescore == "auto") {
        o.rescore = PVEC_RESCORE_AUTO;
    } else if (rescore == "none") {
        o.rescore = PVEC_RESCORE_NONE;
    } else if (rescore == "raw") {
        o.rescore = PVEC_RESCORE_RAW;
    } else if (rescore == "exact") {
        o.rescore = PVEC_RESCORE_EXACT;
    } else {
        throw UsageError("--rescore must be auto, none, raw or exact, not '" + rescore + "'");
    }
    return o;
}

// Every query of a file, one JSON line each.
int search_file(const Args &args, pvec_collection *coll, uint32_t dim, size_t k,
                const pvec_search_options &opts) {
    const std::string file = *args.value("--queries");
    std::optional<InputFormat> format = args.has("--format")
                                            ? format_from_name(*args.value("--format"))
                                            : format_from_extension(file);
    if (!format) {
        throw UsageError("cannot tell the format of '" + file + "': give --format fvecs|npy|jsonl");
    }
    auto reader = open_reader(*format, file, 0);
    if (reader->dim() != 0 && reader->dim() != dim) {
        throw ToolError(strprintf("'%s' has %zu dimensions, the collection %u", file.c_str(),
                                  reader->dim(), dim));
    }
    std::vector<int64_t> ids(k);
    std::vector<float> scores(k);
    size_t index = 0;
    ImportBatch batch;
    while (reader->read(1024, batch) > 0) {
        for (size_t r = 0; r < batch.size(); ++r, ++index) {
            size_t found = 0;
            pvec_check(strprintf("query %zu failed", index), [&](char **err) {
                return pvec_search(coll, &batch.vectors[r * dim], dim, k, &opts, ids.data(),
                                   scores.data(), &found, err);
            });
            JsonWriter json;
            json.begin_object().key("query").integer(static_cast<int64_t>(index)).key("ids");
            json.begin_array();
            for (size_t i = 0; i < found; ++i) {
                json.integer(ids[i]);
            }
            json.end_array().key("scores").begin_array();
            for (size_t i = 0; i < found; ++i) {
                json.real(scores[i]);
            }
            json.end_array().end_object();
            std::printf("%s\n", json.str().c_str());
        }
        batch.clear();
    }
    return kExitOk;
}

} // namespace

int run_search(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(
        argv,
        {{"--vector", true}, {"--fvecs", true}, {"--row", true}, {"-k", true}, {"--json", false},
         {"--queries", true}, {"--format", true}, {"--oversample", true}, {"--rescore", true},
         {"--memory-cap", true}});
    args.expect_positionals(2, 2, "DB NAME");
    const std::string &path = args.positionals()[0];
    const std::string &name = args.positionals()[1];
    const size_t k = args.unsigned_or("-k", kDefaultK, 1, kMaxK);
    const uint64_t memory_cap = args.unsigned_or("--memory-cap", 0, 1, UINT64_MAX);
    const pvec_search_options opts = search_options(args);
    if (args.has("--queries")) {
        if (args.has("--vector") || args.has("--fvecs") || args.has("--row") || args.has("--json")) {
            throw UsageError("--queries answers in JSON lines; it takes no --vector, --fvecs, --row "
                             "or --json");
        }
        DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
        CollectionHandle coll = open_collection(db.get(), name, memory_cap);
        const pvec_collection_info info = collection_info(coll.get());
        const int rc = search_file(args, coll.get(), info.dim, k, opts);
        coll.reset();
        close_db(db);
        return rc;
    }
    if (args.has("--format")) {
        throw UsageError("--format goes with --queries");
    }
    const std::vector<float> query = query_from_args(args);

    DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    CollectionHandle coll = open_collection(db.get(), name, memory_cap);
    const pvec_collection_info info = collection_info(coll.get());
    if (query.size() != info.dim) {
        throw ToolError(strprintf("the query has %zu numbers, collection '%s' has dimension %u",
                                  query.size(), name.c_str(), info.dim));
    }

    std::vector<int64_t> ids(k);
    std::vector<float> scores(k);
    size_t found = 0;
    pvec_check("search failed", [&](char **err) {
        return pvec_search(coll.get(), query.data(), query.size(), k, &opts, ids.data(),
                           scores.data(), &found, err);
    });
    std::vector<Hit> hits;
    for (size_t i = 0; i < found; ++i) {
        Hit hit{ids[i], scores[i], std::nullopt};
        char *meta = nullptr;
        const PvecStatus status = pvec_try(
            [&](char **err) { return pvec_get(coll.get(), hit.id, nullptr, 0, &meta, err); });
        if (meta != nullptr) {
            hit.meta = meta;
            pvec_free(meta);
        }
        if (!status.ok()) {
            throw_status(strprintf("cannot read item %lld", static_cast<long long>(hit.id)),
                         status);
        }
        hits.push_back(std::move(hit));
    }
    coll.reset();
    close_db(db);

    if (args.has("--json")) {
        JsonWriter json;
        json.begin_array();
        for (const Hit &h : hits) {
            json.begin_object().key("id").integer(h.id).key("score").real(h.score).key("meta");
            if (h.meta) {
                json.raw(*h.meta); // stored as given, and the library validated it as JSON
            } else {
                json.null();
            }
            json.end_object();
        }
        json.end_array();
        std::printf("%s\n", json.str().c_str());
        return kExitOk;
    }

    int id_width = 2;
    bool any_meta = false;
    for (const Hit &h : hits) {
        id_width = std::max(id_width, static_cast<int>(std::to_string(h.id).size()));
        any_meta = any_meta || h.meta.has_value();
    }
    std::printf("rank  %-*s  %10s%s\n", id_width, "id", "score", any_meta ? "  meta" : "");
    for (size_t i = 0; i < hits.size(); ++i) {
        const Hit &h = hits[i];
        std::printf("%4zu  %*lld  %10.6f%s%s\n", i + 1, id_width, static_cast<long long>(h.id),
                    static_cast<double>(h.score), h.meta ? "  " : "",
                    h.meta ? h.meta->c_str() : "");
    }
    if (hits.empty()) {
        std::printf("(collection '%s' is empty)\n", name.c_str());
    }
    return kExitOk;
}

} // namespace pocketvec::tool
