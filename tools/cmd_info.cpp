// pocketvec info DB [NAME] [--check] [--json]
#include "cli.h"
#include "commands.h"
#include "json_writer.h"

#include <algorithm>
#include <cstdio>

namespace pocketvec::tool {
namespace {

constexpr const char *kHelp =
    "usage: pocketvec info DB [NAME] [--check] [--json]\n"
    "\n"
    "Lists the collections of database DB (or only NAME) with their dimension, metric, codec,\n"
    "item count, slot capacity and bytes used, plus the file size, the library version and the\n"
    "SIMD kernel level in use.\n"
    "\n"
    "  --check  first verify the whole file (pvec_db_check: SQLite's structure, every checksum,\n"
    "           items against chunk slots); damage is listed and the exit status is 1\n"
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

// pvec_db_check's findings, one per line; empty when the file is sound.
std::vector<std::string> check_db(pvec_db *db) {
    char *report = nullptr;
    char *err = nullptr;
    const int rc = pvec_db_check(db, &report, &err);
    std::vector<std::string> lines;
    if (report) {
        std::string text(report);
        std::size_t at = 0;
        while (at < text.size()) {
            const std::size_t nl = text.find('\n', at);
            lines.push_back(text.substr(at, nl - at));
            at = nl == std::string::npos ? text.size() : nl + 1;
        }
    }
    pvec_free(report);
    const std::string message = err ? err : pvec_errstr(rc);
    pvec_free(err);
    if (rc != PVEC_OK && rc != PVEC_CORRUPT) {
        throw ToolError("cannot check the database: " + message);
    }
    if (rc == PVEC_CORRUPT && lines.empty()) {
        lines.push_back(message);
    }
    return lines;
}

} // namespace

int run_info(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--json", false}, {"--check", false}});
    args.expect_positionals(1, 2, "DB [NAME]");
    const std::string &path = args.positionals()[0];

    DbHandle db = open_db(path, PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    if (args.has("--check")) {
        const std::vector<std::string> damage = check_db(db.get());
        if (!damage.empty()) {
            // Collections are not opened: a damaged one would only repeat the report.
            close_db(db);
            if (args.has("--json")) {
                JsonWriter json;
                json.begin_object().key("file").string(path).key("check").begin_object();
                json.key("ok").boolean(false).key("problems").begin_array();
                for (const std::string &line : damage) {
                    json.string(line);
                }
                json.end_array().end_object().end_object();
                std::printf("%s\n", json.str().c_str());
            } else {
                std::printf("check        DAMAGED: %zu finding%s\n", damage.size(),
                            damage.size() == 1 ? "" : "s");
                for (const std::string &line : damage) {
                    std::printf("  %s\n", line.c_str());
                }
            }
            return kExitRuntime;
        }
    }
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
            .string(pvec_kernel_name());
        if (args.has("--check")) {
            json.key("check").begin_object().key("ok").boolean(true).key("problems").begin_array();
            json.end_array().end_object();
        }
        json.key("collections")
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
    if (args.has("--check")) {
        std::printf("check        ok (every checksum and cross-reference verified)\n");
    }
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
