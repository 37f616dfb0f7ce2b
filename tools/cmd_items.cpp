// pocketvec get DB NAME ID [--json] | delete DB NAME ID... | drop DB NAME
#include "cli.h"
#include "commands.h"
#include "json_writer.h"

#include <cstdio>
#include <vector>

namespace pocketvec::tool {
namespace {

constexpr const char *kGetHelp =
    "usage: pocketvec get DB NAME ID [--json]\n"
    "\n"
    "Prints item ID of collection NAME: its vector (the original when the collection keeps it, else\n"
    "decoded from its code) and its metadata. Exit 1 when there is no such item.\n"
    "\n"
    "  --json   one JSON object {\"id\", \"vector\", \"meta\"}\n";

constexpr const char *kDeleteHelp =
    "usage: pocketvec delete DB NAME ID [ID ...]\n"
    "\n"
    "Deletes the items, all in one transaction: if one of them does not exist, none is deleted.\n";

constexpr const char *kDropHelp =
    "usage: pocketvec drop DB NAME\n"
    "\n"
    "Deletes collection NAME with all its items, model and raw vectors.\n";

int64_t parse_id(const std::string &text) { return parse_signed(text, "ID"); }

} // namespace

int run_get(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kGetHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {{"--json", false}});
    args.expect_positionals(3, 3, "DB NAME ID");
    const int64_t id = parse_id(args.positionals()[2]);
    DbHandle db = open_db(args.positionals()[0], PVEC_OPEN_READONLY | PVEC_OPEN_NOCREATE);
    CollectionHandle coll = open_collection(db.get(), args.positionals()[1]);
    const pvec_collection_info info = collection_info(coll.get());
    std::vector<float> vec(info.dim);
    char *meta = nullptr;
    pvec_check(strprintf("cannot read item %lld", static_cast<long long>(id)), [&](char **err) {
        return pvec_get(coll.get(), id, vec.data(), vec.size(), &meta, err);
    });
    const std::string meta_text = meta ? meta : "";
    const bool has_meta = meta != nullptr;
    pvec_free(meta);
    coll.reset();
    close_db(db);
    JsonWriter json;
    if (args.has("--json")) {
        json.begin_object().key("id").integer(id).key("vector").begin_array();
    } else {
        json.begin_array();
    }
    for (float x : vec) {
        json.real(x);
    }
    json.end_array();
    if (args.has("--json")) {
        json.key("meta");
        has_meta ? json.raw(meta_text) : json.null();
        json.end_object();
        std::printf("%s\n", json.str().c_str());
    } else {
        std::printf("id      %lld\nvector  %s\nmeta    %s\n", static_cast<long long>(id),
                    json.str().c_str(), has_meta ? meta_text.c_str() : "(none)");
    }
    return kExitOk;
}

int run_delete(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kDeleteHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {});
    args.expect_positionals(3, SIZE_MAX, "DB NAME ID [ID ...]");
    std::vector<int64_t> ids;
    for (size_t i = 2; i < args.positionals().size(); ++i) {
        ids.push_back(parse_id(args.positionals()[i]));
    }
    DbHandle db = open_db(args.positionals()[0], PVEC_OPEN_NOCREATE);
    CollectionHandle coll = open_collection(db.get(), args.positionals()[1]);
    pvec_check("cannot begin a transaction", [&](char **err) { return pvec_db_begin(db.get(), err); });
    for (int64_t id : ids) {
        const PvecStatus status = pvec_try([&](char **err) { return pvec_delete(coll.get(), id, err); });
        if (!status.ok()) {
            pvec_db_rollback(db.get(), nullptr);
            throw_status(strprintf("item %lld not deleted (nothing was)", static_cast<long long>(id)),
                         status);
        }
    }
    pvec_check("cannot commit", [&](char **err) { return pvec_db_commit(db.get(), err); });
    coll.reset();
    close_db(db);
    std::printf("deleted %zu item%s from '%s'\n", ids.size(), ids.size() == 1 ? "" : "s",
                args.positionals()[1].c_str());
    return kExitOk;
}

int run_drop(const CommandArgs &argv) {
    if (wants_help(argv)) {
        std::fputs(kDropHelp, stdout);
        return kExitOk;
    }
    const Args args(argv, {});
    args.expect_positionals(2, 2, "DB NAME");
    DbHandle db = open_db(args.positionals()[0], PVEC_OPEN_NOCREATE);
    pvec_check(strprintf("cannot drop '%s'", args.positionals()[1].c_str()), [&](char **err) {
        return pvec_collection_drop(db.get(), args.positionals()[1].c_str(), err);
    });
    close_db(db);
    std::printf("dropped collection '%s'\n", args.positionals()[1].c_str());
    return kExitOk;
}

} // namespace pocketvec::tool
