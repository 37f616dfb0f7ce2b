#include "store/json_check.h"

#include <bitset>

namespace pocketvec::store {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    bool run() {
        skip_ws();
        if (!value()) {
            return false;
        }
        skip_ws();
        return i_ == s_.size();
    }

private:
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    bool eat(char c) {
        if (peek() == c && i_ < s_.size()) {
            ++i_;
            return true;
        }
        return false;
    }
    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) {
            return false;
        }
        i_ += word.size();
        return true;
    }
    bool string() {
        if (!eat('"')) {
            return false;
        }
        while (i_ < s_.size()) {
            const auto c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') {
                return true;
            }
            if (c < 0x20) {
                return false;  // control characters must be escaped
            }
            if (c == '\\') {
                const char e = peek();
                ++i_;
                if (e == 'u') {
                    for (int k = 0; k < 4; ++k) {
                        if (!is_hex(peek())) {
                            return false;
                        }
                        ++i_;
                    }
                } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos ||
                           e == '\0') {
                    return false;
                }
            }
        }
        return false;
    }
    bool number() {
        eat('-');
        if (eat('0')) {
            // no leading zeros
        } else if (is_digit(peek()) && peek() != '0') {
            while (is_digit(peek())) {
                ++i_;
            }
        } else {
            return false;
        }
        if (eat('.')) {
            if (!is_digit(peek())) {
                return false;
            }
            while (is_digit(peek())) {
                ++i_;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            ++i_;
            if (peek() == '+' || peek() == '-') {
                ++i_;
            }
            if (!is_digit(peek())) {
                return false;
            }
            while (is_digit(peek())) {
                ++i_;
            }
        }
        return true;
    }
    bool scalar() {
        switch (peek()) {
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }
    // Iterative over nesting: one bit per open container (1 = object), so deep input cannot
    // exhaust the stack.
    bool value() {
        std::bitset<kMaxJsonDepth> is_object;
        int depth = 0;
        for (;;) {
            // A value is expected here.
            skip_ws();
            const char c = peek();
            if (c == '[' || c == '{') {
                if (depth == kMaxJsonDepth) {
                    return false;
                }
                ++i_;
                is_object[depth++] = c == '{';
                skip_ws();
                if (eat(c == '[' ? ']' : '}')) {
                    --depth;  // empty container: a complete value
                } else {
                    if (c == '{' && !member_key()) {
                        return false;
                    }
                    continue;  // its first value
                }
            } else if (!scalar()) {
                return false;
            }
            // A value is complete: close containers or go on to the next element.
            for (;;) {
                if (depth == 0) {
                    return true;
                }
                skip_ws();
                const bool obj = is_object[depth - 1];
                if (eat(',')) {
                    if (obj && !member_key()) {
                        return false;
                    }
                    break;
                }
                if (!eat(obj ? '}' : ']')) {
                    return false;
                }
                --depth;
            }
        }
    }
    // `"key" :` inside an object.
    bool member_key() {
        skip_ws();
        if (!string()) {
            return false;
        }
        skip_ws();
        return eat(':');
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

bool is_valid_json(std::string_view text) { return Parser(text).run(); }

}  // namespace pocketvec::store
