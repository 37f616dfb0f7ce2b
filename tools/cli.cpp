#include "cli.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>
#include <thread>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace pocketvec::tool {

std::string strprintf(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    va_list copy;
    va_copy(copy, args);
    const int n = std::vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    std::string out;
    if (n > 0) {
        out.resize(static_cast<size_t>(n) + 1);
        std::vsnprintf(out.data(), out.size(), fmt, args);
        out.resize(static_cast<size_t>(n));
    }
    va_end(args);
    return out;
}

// --------------------------------------------------------------------------------------------
// Command lines
// --------------------------------------------------------------------------------------------

Args::Args(const std::vector<std::string> &args, std::vector<OptionSpec> specs) {
    bool options_done = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &arg = args[i];
        if (options_done || arg.size() < 2 || arg[0] != '-' ||
            (arg[1] != '-' && !std::isalpha(static_cast<unsigned char>(arg[1])))) {
            // "-0.5" and "-" are values, not options.
            positionals_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        std::string name = arg;
        std::optional<std::string> inline_value;
        if (const size_t eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        const auto spec = std::find_if(specs.begin(), specs.end(),
                                       [&](const OptionSpec &s) { return s.name == name; });
        if (spec == specs.end()) {
            throw UsageError("unknown option '" + name + "'");
        }
        if (has(name)) {
            throw UsageError("option '" + name + "' given twice");
        }
        std::string value;
        if (spec->takes_value) {
            if (inline_value) {
                value = *inline_value;
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                throw UsageError("option '" + name + "' needs a value");
            }
        } else if (inline_value) {
            throw UsageError("option '" + name + "' takes no value");
        }
        options_.emplace_back(name, value);
    }
}

bool Args::has(std::string_view name) const {
    return std::any_of(options_.begin(), options_.end(),
                       [&](const auto &o) { return o.first == name; });
}

std::optional<std::string> Args::value(std::string_view name) const {
    for (const auto &o : options_) {
        if (o.first == name) {
            return o.second;
        }
    }
    return std::nullopt;
}

std::string Args::value_or(std::string_view name, std::string fallback) const {
    std::optional<std::string> v = value(name);
    return v ? *v : std::move(fallback);
}

uint64_t Args::unsigned_or(std::string_view name, uint64_t fallback, uint64_t min,
                           uint64_t max) const {
    std::optional<std::string> v = value(name);
    return v ? parse_unsigned(*v, name, min, max) : fallback;
}

int64_t Args::signed_or(std::string_view name, int64_t fallback) const {
    std::optional<std::string> v = value(name);
    return v ? parse_signed(*v, name) : fallback;
}

void Args::expect_positionals(size_t min, size_t max, std::string_view synopsis) const {
    if (positionals_.size() < min) {
        throw UsageError("missing arguments; expected " + std::string(synopsis));
    }
    if (positionals_.size() > max) {
        throw UsageError("unexpected argument '" + positionals_[max] + "'; expected " +
                         std::string(synopsis));
    }
}

bool wants_help(const std::vector<std::string> &args) {
    for (const std::string &a : args) {
        if (a == "--") {
            return false;
        }
        if (a == "--help" || a == "-h") {
            return true;
        }
    }
    return false;
}

uint64_t parse_unsigned(std::string_view text, std::string_view what, uint64_t min, uint64_t max) {
    const std::string s(text);
    errno = 0;
    char *end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    // strtoull accepts "-1" by negating; a count never starts with '-'.
    if (s.empty() || s[0] == '-' || s[0] == '+' || end != s.c_str() + s.size() || errno != 0) {
        throw UsageError(std::string(what) + ": '" + s + "' is not a non-negative integer");
    }
    if (v < min || v > max) {
        throw UsageError(strprintf(
            "%.*s: %llu is out of range [%llu, %llu]", static_cast<int>(what.size()), what.data(),
            v, static_cast<unsigned long long>(min), static_cast<unsigned long long>(max)));
    }
    return v;
}

int64_t parse_signed(std::string_view text, std::string_view what) {
    const std::string s(text);
    errno = 0;
    char *end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0) {
        throw UsageError(std::string(what) + ": '" + s + "' is not a 64-bit integer");
    }
    return v;
}

std::optional<uint32_t> metric_from_name(std::string_view name) {
    if (name == "cosine") {
        return PVEC_METRIC_COSINE;
    }
    if (name == "dot") {
        return PVEC_METRIC_DOT;
    }
    if (name == "l2") {
        return PVEC_METRIC_L2;
    }
    return std::nullopt;
}

uint32_t parse_metric(std::string_view name) {
    if (std::optional<uint32_t> m = metric_from_name(name)) {
        return *m;
    }
    throw UsageError("unknown metric '" + std::string(name) + "' (use cosine, dot or l2)");
}

const char *metric_name(uint32_t metric) {
    switch (metric) {
    case PVEC_METRIC_COSINE:
        return "cosine";
    case PVEC_METRIC_DOT:
        return "dot";
    case PVEC_METRIC_L2:
        return "l2";
    default:
        return "unknown";
    }
}

// --------------------------------------------------------------------------------------------
// Library calls
// --------------------------------------------------------------------------------------------

std::string describe(std::string_view what, const PvecStatus &status) {
    std::string out(what);
    out += ": ";
    out += pvec_errstr(status.rc);
    if (!status.message.empty()) {
        out += " (" + status.message + ")";
    }
    return out;
}

void throw_status(std::string_view what, const PvecStatus &status) {
    throw ToolError(describe(what, status));
}

void DbCloser::operator()(pvec_db *db) const noexcept {
    // Reached on error paths only (close_db is the normal way out), so a warning is enough.
    const int rc = pvec_db_close(db);
    if (rc != PVEC_OK) {
        std::fprintf(stderr, "pocketvec: warning: closing the database failed: %s\n",
                     pvec_errstr(rc));
    }
}

void CollectionCloser::operator()(pvec_collection *coll) const noexcept {
    pvec_collection_close(coll);
}

DbHandle open_db(const std::string &path, uint32_t flags) {
    pvec_open_options opts = PVEC_OPEN_OPTIONS_INIT;
    opts.flags = flags;
    pvec_db *raw = nullptr;
    const PvecStatus status =
        pvec_try([&](char **err) { return pvec_db_open(path.c_str(), &opts, &raw, err); });
    DbHandle db(raw);
    if (!status.ok()) {
        throw_status("cannot open database '" + path + "'", status);
    }
    return db;
}

void close_db(DbHandle &db) {
    const int rc = pvec_db_close(db.get());
    if (rc != PVEC_OK) {
        // The handle stays valid when close refuses (e.g. PVEC_BUSY); the deleter retries.
        throw ToolError(std::string("cannot close the database: ") + pvec_errstr(rc));
    }
    (void)db.release();
}

CollectionHandle open_collection(pvec_db *db, const std::string &name, uint64_t memory_cap) {
    pvec_collection *raw = nullptr;
    pvec_collection_open_options opts = PVEC_COLLECTION_OPEN_OPTIONS_INIT;
    opts.memory_cap = memory_cap;
    const PvecStatus status = pvec_try(
        [&](char **err) { return pvec_collection_open_v2(db, name.c_str(), &opts, &raw, err); });
    CollectionHandle coll(raw);
    if (status.rc == PVEC_NOTFOUND) {
        throw ToolError("no collection named '" + name + "' in this database");
    }
    if (!status.ok()) {
        throw_status("cannot open collection '" + name + "'", status);
    }
    return coll;
}

pvec_collection_info collection_info(pvec_collection *coll) {
    pvec_collection_info info{};
    info.struct_size = sizeof info;
    pvec_check("cannot read collection info",
               [&](char **err) { return pvec_collection_info_get(coll, &info, err); });
    // Never trust a fixed-size C string to be terminated.
    info.codec[sizeof info.codec - 1] = '\0';
    info.name[sizeof info.name - 1] = '\0';
    return info;
}

Transaction::Transaction(pvec_db *db) : db_(db) {
    pvec_check("cannot begin a transaction", [&](char **err) { return pvec_db_begin(db_, err); });
    open_ = true;
}

Transaction::~Transaction() {
    if (open_) {
        const PvecStatus status = pvec_try([&](char **err) { return pvec_db_rollback(db_, err); });
        if (!status.ok()) {
            std::fprintf(stderr, "pocketvec: warning: %s\n",
                         describe("rollback failed", status).c_str());
        }
    }
}

void Transaction::commit() {
    open_ = false; // a failed commit is not retried by the destructor's rollback
    pvec_check("cannot commit", [&](char **err) { return pvec_db_commit(db_, err); });
}

// --------------------------------------------------------------------------------------------
// Misc
// --------------------------------------------------------------------------------------------

bool stderr_is_terminal() {
#if defined(_WIN32)
    return _isatty(_fileno(stderr)) != 0;
#else
    return isatty(fileno(stderr)) != 0;
#endif
}

uint64_t database_bytes(const std::string &path) {
    uint64_t total = 0;
    for (const char *suffix : {"", "-wal"}) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path + suffix, ec);
        if (!ec) {
            total += size;
        }
    }
    return total;
}

ScopedDatabaseFile::~ScopedDatabaseFile() {
    if (!remove_) {
        return;
    }
    for (const char *suffix : {"", "-journal", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(path_ + suffix, ec);
    }
}

void Progress::update(std::string_view label, uint64_t done, uint64_t total) {
    if (!enabled_) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
        started_ = true;
        start_ = now;
    }
    if (done != total && now - last_ < std::chrono::milliseconds(100)) {
        return;
    }
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    if (total == 0) { // unknown total: the count and the rate
        std::fprintf(stderr, "\r%.*s %llu  %.0f/s\033[K", static_cast<int>(label.size()),
                     label.data(), static_cast<unsigned long long>(done), rate);
    } else {
        const double left = rate > 0 && total > done ? (total - done) / rate : 0.0;
        std::fprintf(stderr, "\r%.*s %llu / %llu  %5.1f%%  %.0f/s  %.0f s left\033[K",
                     static_cast<int>(label.size()), label.data(),
                     static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                     100.0 * static_cast<double>(done) / static_cast<double>(total), rate, left);
    }
    std::fflush(stderr);
    dirty_ = true;
}

void Progress::status(std::string_view text) {
    if (!enabled_) {
        return;
    }
    std::fprintf(stderr, "\r%.*s\033[K", static_cast<int>(text.size()), text.data());
    std::fflush(stderr);
    dirty_ = true;
}

void Progress::note(std::string_view line) {
    if (!enabled_) {
        return;
    }
    std::fprintf(stderr, "\r%.*s\033[K\n", static_cast<int>(line.size()), line.data());
    dirty_ = false;
}

void Progress::finish() {
    if (enabled_ && dirty_) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        dirty_ = false;
    }
}

unsigned worker_threads() {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::clamp(hw, 2u, 16u);
}

void run_parallel(unsigned threads, size_t count, const std::function<void(size_t, size_t)> &fn,
                  size_t min_per_thread) {
    if (count == 0) {
        return;
    }
    threads = static_cast<unsigned>(
        std::clamp<size_t>(threads, 1, std::max<size_t>(1, count / std::max<size_t>(1, min_per_thread))));
    const size_t per = (count + threads - 1) / threads;
    std::vector<std::thread> workers;
    workers.reserve(threads);
    // Joins on every path: a std::thread destroyed while joinable would terminate the process.
    struct Joiner {
        std::vector<std::thread> &workers;
        ~Joiner() {
            for (std::thread &w : workers) {
                if (w.joinable()) {
                    w.join();
                }
            }
        }
    } joiner{workers};
    for (unsigned t = 1; t < threads; ++t) {
        const size_t begin = std::min(count, t * per);
        const size_t end = std::min(count, begin + per);
        if (begin < end) {
            workers.emplace_back(fn, begin, end);
        }
    }
    fn(0, std::min(count, per));
}

} // namespace pocketvec::tool
