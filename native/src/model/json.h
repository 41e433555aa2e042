// A small strict JSON parser (RFC 8259) for config.json and safetensors headers.
//
// Strict because checkpoints are untrusted input: duplicate keys, trailing garbage, bad escapes,
// invalid UTF-16 surrogates and nesting deeper than kMaxDepth are errors with a byte offset. It is
// fuzzed (tests/fuzz): iterative depth accounting, no reads past the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chela::json {

constexpr int kMaxDepth = 64;

struct Value {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0;
    bool integral = false;   // the literal had no fraction or exponent
    int64_t integer = 0;     // exact value when integral and within int64
    std::string string;
    std::vector<Value> array;
    std::vector<std::pair<std::string, Value>> object;  // in file order, keys unique

    const Value* find(std::string_view key) const;
    const char* kind_name() const;
};

// Parses `text` completely. Throws chela::Error(CHELA_ERR_FORMAT, "<what>: <problem> at byte N").
Value parse(std::string_view text, const char* what);

}  // namespace chela::json
