// Shared plumbing of the `pocketvec` command: errors and exit codes, option parsing, RAII handles
// over the public C API, and small formatting helpers. The tool is a client of the public header
// only; nothing here reaches into lib/.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <pocketvec/pocketvec.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pocketvec::tool {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// A bad command line: main prints it with a hint to --help and exits with kExitUsage.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A failure while running (files, data, library calls): main prints it and exits kExitRuntime.
class ToolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

#if defined(__GNUC__) || defined(__clang__)
#define PVEC_TOOL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PVEC_TOOL_PRINTF(fmt, args)
#endif

// printf into a std::string.
std::string strprintf(const char *fmt, ...) PVEC_TOOL_PRINTF(1, 2);

// --------------------------------------------------------------------------------------------
// Command lines
// --------------------------------------------------------------------------------------------

struct OptionSpec {
    std::string_view name; // "--dim", "-k"
    bool takes_value;
};

// Parses `--opt value`, `--opt=value`, flags and positionals; "--" ends the options. Unknown
// options, missing values and repeated options are UsageErrors.
class Args {
public:
    Args(const std::vector<std::string> &args, std::vector<OptionSpec> specs);

    bool has(std::string_view name) const;
    std::optional<std::string> value(std::string_view name) const;
    std::string value_or(std::string_view name, std::string fallback) const;
    uint64_t unsigned_or(std::string_view name, uint64_t fallback, uint64_t min,
                         uint64_t max) const;
    int64_t signed_or(std::string_view name, int64_t fallback) const;

    const std::vector<std::string> &positionals() const { return positionals_; }
    // Throws a UsageError naming `synopsis` unless min <= positionals <= max.
    void expect_positionals(size_t min, size_t max, std::string_view synopsis) const;

private:
    std::vector<std::pair<std::string, std::string>> options_;
    std::vector<std::string> positionals_;
};

// True when the arguments ask for help (--help or -h before any "--").
bool wants_help(const std::vector<std::string> &args);

uint64_t parse_unsigned(std::string_view text, std::string_view what, uint64_t min, uint64_t max);
int64_t parse_signed(std::string_view text, std::string_view what);

// Metric names as the tool spells them: cosine, dot, l2.
std::optional<uint32_t> metric_from_name(std::string_view name);
uint32_t parse_metric(std::string_view name); // UsageError when unknown
const char *metric_name(uint32_t metric);

// --------------------------------------------------------------------------------------------
// Library calls
// --------------------------------------------------------------------------------------------

struct PvecStatus {
    int rc = PVEC_OK;
    std::string message; // the library's detailed message, may be empty
    bool ok() const { return rc == PVEC_OK; }
};

// Calls fn(char **errmsg) and takes ownership of the message, so that no path leaks it.
template <class Fn> PvecStatus pvec_try(Fn &&fn) {
    char *msg = nullptr;
    PvecStatus status;
    status.rc = fn(&msg);
    if (msg != nullptr) {
        status.message = msg;
        pvec_free(msg);
    }
    return status;
}

// "what: <pvec_errstr> (<message>)".
std::string describe(std::string_view what, const PvecStatus &status);
[[noreturn]] void throw_status(std::string_view what, const PvecStatus &status);

// As pvec_try, but a failure becomes a ToolError that says what was being done.
template <class Fn> void pvec_check(std::string_view what, Fn &&fn) {
    PvecStatus status = pvec_try(std::forward<Fn>(fn));
    if (!status.ok()) {
        throw_status(what, status);
    }
}

struct DbCloser {
    void operator()(pvec_db *db) const noexcept;
};
struct CollectionCloser {
    void operator()(pvec_collection *coll) const noexcept;
};
using DbHandle = std::unique_ptr<pvec_db, DbCloser>;
using CollectionHandle = std::unique_ptr<pvec_collection, CollectionCloser>;

DbHandle open_db(const std::string &path, uint32_t flags);
// Closes now and checks the status (the deleter can only warn).
void close_db(DbHandle &db);
// memory_cap > 0: a streaming handle (pvec_collection_open_v2).
CollectionHandle open_collection(pvec_db *db, const std::string &name, uint64_t memory_cap = 0);
pvec_collection_info collection_info(pvec_collection *coll);

// An explicit transaction that rolls back unless commit() was reached, so an error (or an
// exception) part-way through a write leaves the file as it was.
class Transaction {
public:
    explicit Transaction(pvec_db *db);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    void commit();

private:
    pvec_db *db_;
    bool open_ = false;
};

// --------------------------------------------------------------------------------------------
// Misc
// --------------------------------------------------------------------------------------------

bool stderr_is_terminal();

// Bytes the database occupies on disk: the main file plus a WAL file if one is present.
uint64_t database_bytes(const std::string &path);

// Removes a database file and its journal/WAL/SHM companions when it goes out of scope.
class ScopedDatabaseFile {
public:
    explicit ScopedDatabaseFile(std::string path, bool remove)
        : path_(std::move(path)), remove_(remove) {}
    ~ScopedDatabaseFile();
    ScopedDatabaseFile(const ScopedDatabaseFile &) = delete;
    ScopedDatabaseFile &operator=(const ScopedDatabaseFile &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
    bool remove_;
};

// A line of progress on stderr, rewritten in place, only when stderr is a terminal: redirected
// output (logs, CI, --json consumers) stays clean.
class Progress {
public:
    explicit Progress(bool enabled) : enabled_(enabled) {}
    ~Progress() { finish(); }
    Progress(const Progress &) = delete;
    Progress &operator=(const Progress &) = delete;
    void update(std::string_view label, uint64_t done, uint64_t total); // total 0: unknown
    void status(std::string_view text); // a step without a count (e.g. "training")
    void note(std::string_view line); // a finished step, on its own line
    void finish();

private:
    bool enabled_;
    bool dirty_ = false;
    bool started_ = false;
    std::chrono::steady_clock::time_point start_{}, last_{};
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Worker threads for the tool's own parallel loops (generator, oracle): at least 2.
unsigned worker_threads();

// Splits [0, count) into up to `threads` contiguous ranges and runs fn(begin, end) on each, one
// on the calling thread; returns when all are done. `fn` must not throw.
// `min_per_thread` items at least per thread: below that, starting a thread costs more than it
// saves (and small runs stay on one thread).
void run_parallel(unsigned threads, size_t count, const std::function<void(size_t, size_t)> &fn,
                  size_t min_per_thread = 1);

} // namespace pocketvec::tool
