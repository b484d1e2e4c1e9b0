// The config file's TOML parser: toml++ (Debian's libtomlplusplus-dev, compiled in header-only),
// behind one C function, so reading a config file needs neither Foundation nor TOMLKit.
#ifndef CAPDECK_TOML_H
#define CAPDECK_TOML_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Parses `length` bytes of UTF-8 TOML at `text`. Returns 0 and the encoded root table, 1 and an
/// encoded syntax error, or -1 (out of memory, nothing in `out`). The encoding is in a buffer from
/// malloc (the caller frees it) at `*out`, its length at `*out_length`:
///   table  't' u32 count, then count × (string key, value), in toml++'s (sorted) key order
///   array  'a' u32 count, then count × value
///   string 's' string;  int 'i' i64;  double 'd' the IEEE bits as u64;  bool 'b' u8
///   date, time or date-time  'D'
///   string: u32 byte length, the UTF-8 bytes; every integer little-endian.
/// An error is u32 line (0: none), then the message as a string.
int capdeck_toml_parse(const void *text, size_t length, void **out, size_t *out_length);

#ifdef __cplusplus
}
#endif
#endif
