// Metadata validation where SQLite has no JSON1 (before 3.38 JSON1 was an optional extension:
// Debian 12's SQLCipher 3.4.1, SQLite 3.15.2, lacks it). Where JSON1 exists, SQLite's json_valid()
// is used instead, so that pocketvec accepts exactly what the application's SQL accepts.
#pragma once

#include <string_view>

namespace pocketvec::store {

// Nesting deeper than this is refused, as SQLite's JSON1 refuses it (JSON_MAX_DEPTH).
constexpr int kMaxJsonDepth = 2000;

// True when `text` is one JSON value (RFC 8259) with optional white space around it: the strict
// grammar of SQLite's json_valid(), no JSON5. Bytes >= 0x80 are not checked as UTF-8 (nor by
// SQLite). No allocation: the open containers are kept in a bit stack on the C++ stack.
bool is_valid_json(std::string_view text);

}  // namespace pocketvec::store
