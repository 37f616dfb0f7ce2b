// The subcommands of `pocketvec`. Each takes the arguments after its name, prints its help for
// --help / -h, and returns an exit code or throws UsageError / ToolError (see cli.h).
#pragma once

#include <string>
#include <vector>

namespace pocketvec::tool {

using CommandArgs = std::vector<std::string>;

int run_create(const CommandArgs &args);
int run_train(const CommandArgs &args);
int run_import(const CommandArgs &args);
int run_search(const CommandArgs &args);
int run_info(const CommandArgs &args);
int run_demo(const CommandArgs &args);
int run_eval(const CommandArgs &args);
int run_synth(const CommandArgs &args);
int run_get(const CommandArgs &args);
int run_delete(const CommandArgs &args);
int run_drop(const CommandArgs &args);

} // namespace pocketvec::tool
