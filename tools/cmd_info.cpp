// pocketvec info DB [NAME] [--json]
#include "cli.h"
#include "commands.h"
#include "json_writer.h"

#include <algorithm>
#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec info DB [NAME] [--json]\n"
    "\n"
    "Lists the collections of database DB (or only NAME) with their dimension, metric, codec,\n"
    "item count, slot capacity and bytes used, plus the file size, the library version and the\n"
    "SIMD kernel level in use.\n"
    "\n"
    "  --json   print one JSON object\n";

// The list comes back as one allocation that pvec_free releases.
struct NameListFree {
    void operator()(char **names) const noexcept { pvec_free(names); }
};

std::vector<std::string> collection_names(pvec_db *db) {
    char **raw = nullptr;
    size_t count = 0;
    pvec_check("cannot list collections",
               [&](char **err) { return pvec_collection_list(db, &raw, &count, err); });
    const std::unique_ptr<char *, NameListFree> names(raw);
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) {
        out.emplace_back(names.get()[i]);
    }
    return out;
}

} // namespace

int run_info(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--json", false}});
    args.expect_positionals(1, 2, "DB [NAME]");
    const std::string &path = args.positionals()[0];

    DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    std::vector<std::string> names;
    if (args.positionals().size() == 2) {
        names.push_back(args.positionals()[1]);
    } else {
        names = collection_names(db.get());
    }
    std::vector<pvec_collection_info> infos;
    for (const std::string &name : names) {
        CollectionHandle coll = open_collection(db.get(), name);
        infos.push_back(collection_info(coll.get()));
    }
    close_db(db);
    const uint64_t file_bytes = database_bytes(path);

    if (args.has("--json")) {
        JsonWriter json;
        json.begin_object()
            .key("file")
            .string(path)
            .key("file_bytes")
            .uinteger(file_bytes)
            .key("version")
            .string(pvec_version_string())
            .key("kernel")
            .string(pvec_kernel_name())
            .key("collections")
            .begin_array();
        for (const pvec_collection_info &info : infos) {
            json.begin_object()
                .key("name")
                .string(info.name)
                .key("dim")
                .uinteger(info.dim)
                .key("metric")
                .string(metric_name(info.metric))
                .key("codec")
                .string(info.codec)
                .key("code_bytes")
                .uinteger(info.code_bytes)
                .key("trained")
                .boolean(info.trained != 0)
                .key("code_dim")
                .uinteger(info.code_dim)
                .key("raw_tier")
                .boolean(info.raw_tier != 0)
                .key("model_version")
                .uinteger(info.model_version)
                .key("count")
                .uinteger(info.count)
                .key("capacity")
                .uinteger(info.capacity)
                .key("bytes_used")
                .uinteger(info.bytes_used)
                .end_object();
        }
        json.end_array().end_object();
        std::printf("%s\n", json.str().c_str());
        return kExitOk;
    }

    std::printf("file         %s (%llu bytes)\n", path.c_str(),
                static_cast<unsigned long long>(file_bytes));
    std::printf("library      pocketvec %s, kernel %s\n", pvec_version_string(),
                pvec_kernel_name());
    std::printf("collections  %zu\n", infos.size());
    if (infos.empty()) {
        return kExitOk;
    }
    int name_width = 4;
    for (const pvec_collection_info &info : infos) {
        name_width = std::max(name_width, static_cast<int>(std::string(info.name).size()));
    }
    std::printf("\n%-*s  %6s  %-6s  %-6s  %-9s  %5s  %12s  %12s  %14s\n", name_width, "name",
                "dim", "metric", "codec", "state", "bytes", "count", "capacity", "bytes_used");
    for (const pvec_collection_info &info : infos) {
        // "untrained" collections still hold float32 and search exactly.
        const char *state = info.trained ? (info.raw_tier ? "coded+raw" : "coded")
                                         : (info.raw_tier ? "exact+raw" : "exact");
        std::printf("%-*s  %6u  %-6s  %-6s  %-9s  %5u  %12llu  %12llu  %14llu\n", name_width,
                    info.name, info.dim, metric_name(info.metric), info.codec, state,
                    info.code_bytes,
                    static_cast<unsigned long long>(info.count),
                    static_cast<unsigned long long>(info.capacity),
                    static_cast<unsigned long long>(info.bytes_used));
    }
    return kExitOk;
}

} // namespace pocketvec::tool
