// pocketvec create DB NAME --dim N [--metric M] [--codec C]
#include "cli.h"
#include "commands.h"

#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec create DB NAME --dim N [--metric cosine|dot|l2] [--codec f32]\n"
    "\n"
    "Creates the collection NAME in the database file DB (the file is created if missing).\n"
    "\n"
    "  --dim N       vector dimension, 1 to 65536 (required)\n"
    "  --metric M    cosine (default), dot (inner product) or l2 (Euclidean)\n"
    "  --codec C     storage code; f32 (default, exact) is the one this version supports\n";

} // namespace

int run_create(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--dim", true}, {"--metric", true}, {"--codec", true}});
    args.expect_positionals(2, 2, "DB NAME");
    if (!args.has("--dim")) {
        throw UsageError("--dim is required");
    }
    const std::string &path = args.positionals()[0];
    const std::string &name = args.positionals()[1];
    const auto dim = static_cast<uint32_t>(args.unsigned_or("--dim", 0, 1, PVEC_MAX_DIM));
    const uint32_t metric = parse_metric(args.value_or("--metric", "cosine"));
    const std::string codec = args.value_or("--codec", "f32");

    DbHandle db = open_db(path, 0);
    pvec_collection_options opts = PVEC_COLLECTION_OPTIONS_INIT;
    opts.dim = dim;
    opts.metric = metric;
    opts.codec = codec.c_str();
    const PvecStatus status = pvec_try([&](char **err) {
        return pvec_collection_create(db.get(), name.c_str(), &opts, nullptr, err);
    });
    if (status.rc == PVEC_EXISTS) {
        throw ToolError("a collection named '" + name + "' already exists in '" + path + "'");
    }
    if (!status.ok()) {
        throw_status("cannot create collection '" + name + "'", status);
    }
    close_db(db);
    std::printf("created collection '%s' in %s: dim %u, metric %s, codec %s\n", name.c_str(),
                path.c_str(), dim, metric_name(metric), codec.c_str());
    return kExitOk;
}

} // namespace pocketvec::tool
