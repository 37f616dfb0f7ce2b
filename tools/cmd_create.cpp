// pocketvec create DB NAME --dim N [--metric M] [--codec C] [--pca N [--rotate]] [--raw]
//                  [--train-threshold N|never]
#include <unistd.h>

#include <cstdio>

#include "cli.h"
#include "commands.h"

#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec create DB NAME --dim N [--metric cosine|dot|l2] [--codec C]\n"
    "                        [--pca N [--rotate]] [--raw | --raw-tier none|zstd|f32|f16]\n"
    "                        [--train-threshold N|never]\n"
    "\n"
    "Creates the collection NAME in the database file DB (the file is created if missing).\n"
    "\n"
    "  --dim N       vector dimension, 1 to 65536 (required)\n"
    "  --metric M    cosine (default), dot (inner product) or l2 (Euclidean)\n"
    "  --codec C     f32 (default, exact), f16, bf16, e4m3, e5m2, int8, int4, binary, rabitq\n"
    "                or rabitq2\n"
    "  --pca N       at training, project to N dimensions (fewer than --dim)\n"
    "  --rotate      follow PCA with a random orthogonal rotation\n"
    "  --raw         keep each original vector (float32) for exact rescoring and re-training\n"
    "  --raw-tier T  how to keep them: f32 (the --raw default), f16 (half the bytes), zstd\n"
    "                (one row per vector: saves under 1% and packs worse) or none\n"
    "  --train-threshold N|never\n"
    "                train automatically once the collection holds N items\n"
    "                (default max(1024, 2 x dim)); 'never' leaves it to 'pocketvec train'\n";

} // namespace

int run_create(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--dim", true},
                           {"--metric", true},
                           {"--codec", true},
                           {"--pca", true},
                           {"--rotate", false},
                           {"--raw", false},
                           {"--raw-tier", true},
                           {"--train-threshold", true}});
    args.expect_positionals(2, 2, "DB NAME");
    if (!args.has("--dim")) {
        throw UsageError("--dim is required");
    }
    const std::string &path = args.positionals()[0];
    const std::string &name = args.positionals()[1];
    const auto dim = static_cast<uint32_t>(args.unsigned_or("--dim", 0, 1, PVEC_MAX_DIM));
    const uint32_t metric = parse_metric(args.value_or("--metric", "cosine"));
    const std::string codec = args.value_or("--codec", "f32");

    // A file this command creates is removed again when the collection cannot be made: a failed
    // create leaves nothing behind.
    const bool new_file = access(path.c_str(), F_OK) != 0;
    DbHandle db = open_db(path, 0);
    auto discard = [&] {
        if (new_file) {
            db.reset();
            std::remove(path.c_str());
            std::remove((path + "-journal").c_str());
        }
    };
    pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
    opts.dim = dim;
    opts.metric = metric;
    opts.codec = codec.c_str();
    opts.pca_dim = static_cast<uint32_t>(args.unsigned_or("--pca", 0, 0, PVEC_MAX_DIM));
    opts.flags = args.has("--rotate") ? PVEC_COLLECTION_PCA_ROTATE : 0u;
    // --raw keeps float32 vectors per chunk: zstd saves under 1% of an embedding and packs worse.
    const std::string raw = args.value_or("--raw-tier", args.has("--raw") ? "f32" : "none");
    if (raw == "none") {
        opts.raw_tier = PVEC_RAW_NONE;
    } else if (raw == "zstd") {
        opts.raw_tier = PVEC_RAW_ZSTD_F32;
    } else if (raw == "f32") {
        opts.raw_tier = PVEC_RAW_F32;
    } else if (raw == "f16") {
        opts.raw_tier = PVEC_RAW_F16;
    } else {
        throw UsageError("--raw-tier must be none, zstd, f32 or f16, not '" + raw + "'");
    }
    const std::string threshold = args.value_or("--train-threshold", "0");
    opts.train_threshold = threshold == "never" ? PVEC_TRAIN_NEVER
                                                : static_cast<uint32_t>(args.unsigned_or(
                                                      "--train-threshold", 0, 0, 0xFFFFFFFEu));
    const PvecStatus status = pvec_try([&](char **err) {
        return pvec_collection_create(db.get(), name.c_str(), &opts, nullptr, err);
    });
    if (status.rc == PVEC_EXISTS) {
        throw ToolError("a collection named '" + name + "' already exists in '" + path + "'");
    }
    if (!status.ok()) {
        discard();
        throw_status("cannot create collection '" + name + "'", status);
    }
    close_db(db);
    std::printf("created collection '%s' in %s: dim %u, metric %s, codec %s\n", name.c_str(),
                path.c_str(), dim, metric_name(metric), codec.c_str());
    return kExitOk;
}

} // namespace pocketvec::tool

namespace pocketvec::tool {
namespace {

constexpr const char *kTrainHelp =
    "usage: pocketvec train DB NAME [--codec C] [--pca N|none] [--rotate] [--sample N]\n"
    "\n"
    "Fits the collection's model (PCA, then the codec) on a sample of its vectors and re-encodes\n"
    "every item, in one transaction. A collection trained before needs its raw tier (--raw at\n"
    "create) to be trained again, e.g. to switch codec.\n"
    "\n"
    "  --codec C     switch to codec C (default: the collection's)\n"
    "  --pca N|none  keep N dimensions, or no PCA (default: the collection's setting)\n"
    "  --rotate      follow PCA with a random orthogonal rotation\n"
    "  --sample N    vectors to fit on (default up to 16384, spread over the items)\n";

} // namespace

int run_train(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kTrainHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--codec", true}, {"--pca", true}, {"--rotate", false}, {"--sample", true}});
    args.expect_positionals(2, 2, "DB NAME");
    const std::string &path = args.positionals()[0];
    const std::string &name = args.positionals()[1];
    pvec_train_options opts = PVEC_TRAIN_OPTIONS_INIT;
    const std::string codec = args.value_or("--codec", "");
    if (!codec.empty()) {
        opts.codec = codec.c_str();
    }
    if (args.has("--pca")) {
        opts.pca_dim = args.value_or("--pca", "") == "none"
                           ? PVEC_PCA_NONE
                           : static_cast<uint32_t>(args.unsigned_or("--pca", 0, 1, PVEC_MAX_DIM));
    }
    opts.flags = args.has("--rotate") ? PVEC_COLLECTION_PCA_ROTATE : 0u;
    opts.sample = static_cast<uint32_t>(args.unsigned_or("--sample", 0, 0, 0xFFFFFFFFu));

    DbHandle db = open_db(path, 0);
    CollectionHandle coll = open_collection(db.get(), name);
    pvec_check("cannot train collection '" + name + "'",
               [&](char **err) { return pvec_collection_train(coll.get(), &opts, err); });
    const pvec_collection_info info = collection_info(coll.get());
    coll.reset();
    close_db(db);
    std::printf("trained '%s': codec %s, %u dimensions, %u code bytes per vector, model version %u\n",
                name.c_str(), info.codec, info.code_dim, info.code_bytes, info.model_version);
    return kExitOk;
}

} // namespace pocketvec::tool
