// capdeck_toml_parse (include/capdeck_toml.h) over toml++. Header-only, without exceptions: the
// parser's code is in capdeck and its pages are touched only when there is a config file.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "capdeck_toml.h"

namespace {

void put32(std::string &b, uint64_t v) {
    for (int i = 0; i < 4; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put64(std::string &b, uint64_t v) {
    for (int i = 0; i < 8; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putString(std::string &b, std::string_view s) {
    put32(b, s.size());
    b.append(s);
}

void encode(std::string &b, const toml::node &n);

void encodeTable(std::string &b, const toml::table &t) {
    b.push_back('t');
    put32(b, t.size());
    for (auto &&[key, value] : t) {
        putString(b, key.str());
        encode(b, value);
    }
}

void encode(std::string &b, const toml::node &n) {
    switch (n.type()) {
    case toml::node_type::table: encodeTable(b, *n.as_table()); break;
    case toml::node_type::array: {
        const toml::array &a = *n.as_array();
        b.push_back('a');
        put32(b, a.size());
        for (const toml::node &item : a) encode(b, item);
        break;
    }
    case toml::node_type::string: b.push_back('s'); putString(b, n.as_string()->get()); break;
    case toml::node_type::integer: b.push_back('i'); put64(b, static_cast<uint64_t>(n.as_integer()->get())); break;
    case toml::node_type::floating_point: {
        double d = n.as_floating_point()->get();
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        b.push_back('d');
        put64(b, bits);
        break;
    }
    case toml::node_type::boolean: b.push_back('b'); b.push_back(n.as_boolean()->get() ? 1 : 0); break;
    default: b.push_back('D'); break;  // date, time, date-time
    }
}

}  // namespace

extern "C" int capdeck_toml_parse(const void *text, size_t length, void **out, size_t *out_length) {
    std::string bytes;
    int status;
    try {
        toml::parse_result result = toml::parse(std::string_view(text ? static_cast<const char *>(text) : "", text ? length : 0));
        if (result) {
            encodeTable(bytes, result.table());
            status = 0;
        } else {
            const toml::parse_error &e = result.error();
            put32(bytes, e.source().begin.line);
            putString(bytes, e.description());  // what TOMLKit gave as its description
            status = 1;
        }
    } catch (const std::bad_alloc &) {
        return -1;
    }
    void *buffer = std::malloc(bytes.size() ? bytes.size() : 1);
    if (!buffer) return -1;
    std::memcpy(buffer, bytes.data(), bytes.size());
    *out = buffer;
    *out_length = bytes.size();
    return status;
}
