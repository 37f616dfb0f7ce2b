// A small JSON writer for the tool's --json output: objects, arrays, escaped strings, and numbers
// with a chosen precision (so that e.g. recall prints as 1.000, not 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketvec::tool {

class JsonWriter {
public:
    JsonWriter &begin_object();
    JsonWriter &end_object();
    JsonWriter &begin_array();
    JsonWriter &end_array();
    JsonWriter &key(std::string_view name);

    JsonWriter &string(std::string_view s);
    JsonWriter &boolean(bool b);
    JsonWriter &integer(int64_t v);
    JsonWriter &uinteger(uint64_t v);
    JsonWriter &fixed(double v, int decimals); // non-finite values become null
    JsonWriter &real(double v);                // 9 significant digits: round-trips a float
    JsonWriter &raw(std::string_view json);    // text that is already valid JSON
    JsonWriter &null();

    const std::string &str() const { return out_; }

private:
    void before_value();

    std::string out_;
    std::vector<bool> first_; // per open container: no element written yet
    bool after_key_ = false;
};

// `s` as a quoted JSON string.
std::string json_quote(std::string_view s);

} // namespace pocketvec::tool
