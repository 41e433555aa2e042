#include "model/json.h"

#include <chela/chela.h>

#include "core/error.h"

#include <cmath>
#include <cstdlib>
#include <set>

namespace chela::json {

const Value* Value::find(std::string_view key) const {
    for (const auto& kv : object)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

const char* Value::kind_name() const {
    switch (kind) {
        case Kind::Null: return "null";
        case Kind::Bool: return "boolean";
        case Kind::Number: return "number";
        case Kind::String: return "string";
        case Kind::Array: return "array";
        default: return "object";
    }
}

namespace {

class Parser {
public:
    Parser(std::string_view text, const char* what) : s_(text), what_(what) {}

    Value document() {
        Value v = value(0);
        skip_ws();
        if (pos_ != s_.size()) error("unexpected trailing characters");
        return v;
    }

private:
    [[noreturn]] void error(const char* problem) {
        fail(CHELA_ERR_FORMAT, what_, ": invalid JSON: ", problem, " at byte ", pos_);
    }

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    bool consume(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    void literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) error("unknown literal");
        pos_ += word.size();
    }

    Value value(int depth) {
        if (depth > kMaxDepth) error("nesting too deep");
        skip_ws();
        if (pos_ >= s_.size()) error("unexpected end of input");
        Value v;
        const char c = s_[pos_];
        if (c == '{') {
            v.kind = Value::Kind::Object;
            ++pos_;
            std::set<std::string> seen;
            if (consume('}')) return v;
            do {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
                std::string key = string();
                if (!seen.insert(key).second)
                    fail(CHELA_ERR_FORMAT, what_, ": duplicate key \"", key, "\" at byte ", pos_);
                if (!consume(':')) error("expected ':'");
                Value item = value(depth + 1);
                v.object.emplace_back(std::move(key), std::move(item));
            } while (consume(','));
            if (!consume('}')) error("expected ',' or '}'");
        } else if (c == '[') {
            v.kind = Value::Kind::Array;
            ++pos_;
            if (consume(']')) return v;
            do {
                v.array.push_back(value(depth + 1));
            } while (consume(','));
            if (!consume(']')) error("expected ',' or ']'");
        } else if (c == '"') {
            v.kind = Value::Kind::String;
            v.string = string();
        } else if (c == 't') {
            literal("true");
            v.kind = Value::Kind::Bool;
            v.boolean = true;
        } else if (c == 'f') {
            literal("false");
            v.kind = Value::Kind::Bool;
        } else if (c == 'n') {
            literal("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number(v);
        } else {
            error("unexpected character");
        }
        return v;
    }

    unsigned hex4() {
        if (s_.size() - pos_ < 4) error("truncated \\u escape");
        unsigned u = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            u <<= 4;
            if (h >= '0' && h <= '9') u |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') u |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') u |= static_cast<unsigned>(h - 'A' + 10);
            else error("bad hex digit in \\u escape");
        }
        return u;
    }

    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    std::string string() {
        ++pos_;  // opening quote
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) error("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) error("unterminated escape");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (s_.size() - pos_ < 2 || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
                            error("unpaired high surrogate");
                        pos_ += 2;
                        const unsigned lo = hex4();
                        if (lo < 0xdc00 || lo > 0xdfff) error("invalid low surrogate");
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                        error("unpaired low surrogate");
                    }
                    utf8(out, cp);
                    break;
                }
                default: error("unknown escape");
            }
        }
    }

    void number(Value& v) {
        const size_t start = pos_;
        auto digits = [&] {
            const size_t d0 = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            return pos_ - d0;
        };
        if (s_[pos_] == '-') ++pos_;
        if (pos_ < s_.size() && s_[pos_] == '0') {
            ++pos_;
        } else if (digits() == 0) {
            error("bad number");
        }
        bool integral = true;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            integral = false;
            if (digits() == 0) error("bad fraction");
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            integral = false;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (digits() == 0) error("bad exponent");
        }
        const std::string lit(s_.substr(start, pos_ - start));
        v.kind = Value::Kind::Number;
        v.number = std::strtod(lit.c_str(), nullptr);
        if (integral && lit.size() <= 18) {  // fits int64 exactly
            v.integral = true;
            v.integer = std::strtoll(lit.c_str(), nullptr, 10);
        }
    }

    std::string_view s_;
    const char* what_;
    size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const char* what) { return Parser(text, what).document(); }

}  // namespace chela::json
