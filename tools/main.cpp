// pocketvec: the command-line tool. Dispatches to a subcommand and turns errors into messages on
// stderr and exit codes: 0 ok, 1 runtime error, 2 usage error.
#include "cli.h"
#include "commands.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <pocketvec/pocketvec.h>
#include <string>
#include <vector>

namespace pocketvec::tool {
namespace {

struct Command {
    const char *name;
    int (*run)(const CommandArgs &);
    const char *summary;
};

constexpr Command kCommands[] = {
    {"demo", run_demo, "build a store, reopen it, measure recall, latency and size"},
    {"eval", run_eval, "compare compression configurations on a dataset"},
    {"create", run_create, "create a collection"},
    {"train", run_train, "fit a collection's model and re-encode its items"},
    {"import", run_import, "add vectors from an fvecs, npy or jsonl file"},
    {"search", run_search, "find the items nearest to a vector"},
    {"info", run_info, "list collections with their sizes"},
    {"get", run_get, "print one item's vector and metadata"},
    {"delete", run_delete, "delete items by id"},
    {"drop", run_drop, "delete a collection"},
    {"synth", run_synth, "write the demo's synthetic vectors as a dataset directory"},
};

void print_usage(std::FILE *out) {
    std::fprintf(out, "usage: pocketvec <command> [arguments]\n\ncommands:\n");
    for (const Command &c : kCommands) {
        std::fprintf(out, "  %-8s %s\n", c.name, c.summary);
    }
    std::fprintf(out, "\nRun 'pocketvec <command> --help' for a command's arguments.\n"
                      "'pocketvec --version' prints the library version and kernel.\n");
}

int dispatch(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return kExitUsage;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(stdout);
        return kExitOk;
    }
    if (name == "--version") {
        std::printf("pocketvec %s (kernel %s)\n", pvec_version_string(), pvec_kernel_name());
        return kExitOk;
    }
    const Command *command = nullptr;
    for (const Command &c : kCommands) {
        if (name == c.name) {
            command = &c;
            break;
        }
    }
    if (command == nullptr) {
        std::fprintf(stderr, "pocketvec: unknown command '%s'\n\n", name.c_str());
        print_usage(stderr);
        return kExitUsage;
    }
    const CommandArgs args(argv + 2, argv + argc);
    try {
        return command->run(args);
    } catch (const UsageError &e) {
        std::fprintf(stderr, "pocketvec %s: %s\nRun 'pocketvec %s --help' for usage.\n",
                     command->name, e.what(), command->name);
        return kExitUsage;
    } catch (const ToolError &e) {
        std::fprintf(stderr, "pocketvec %s: error: %s\n", command->name, e.what());
        return kExitRuntime;
    } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "pocketvec %s: error: out of memory\n", command->name);
        return kExitRuntime;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pocketvec %s: error: %s\n", command->name, e.what());
        return kExitRuntime;
    }
}

} // namespace
} // namespace pocketvec::tool

int main(int argc, char **argv) {
    return pocketvec::tool::dispatch(argc, argv);
}
