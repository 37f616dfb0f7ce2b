// JSON input parsing through SQLite's JSON1 functions on a private in-memory connection, so the
// tool has no hand-written JSON parser of its own. This is the tool's only direct use of SQLite.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pocketvec::tool {

// Bad JSON input; the message says what is wrong but not where (callers add file and line).
class JsonInputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One JSONL record: {"embedding": [...], "id": 7, ...every other key is metadata}.
struct JsonRecord {
    std::vector<float> embedding;
    std::optional<int64_t> id;
    std::optional<std::string> meta; // a JSON object of the other keys, absent when none
};

class JsonParser {
public:
    JsonParser(); // throws ToolError if SQLite cannot open an in-memory database
    ~JsonParser();
    JsonParser(const JsonParser &) = delete;
    JsonParser &operator=(const JsonParser &) = delete;

    // Both throw JsonInputError.
    JsonRecord parse_record(std::string_view line);
    std::vector<float> parse_vector(std::string_view json_array);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace pocketvec::tool
