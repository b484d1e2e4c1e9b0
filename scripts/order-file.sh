#!/usr/bin/env bash
# Regenerates packaging/capdeck.order, the symbol ordering file the packaged build is linked with
# (Makefile's `static`: lld --symbol-ordering-file). Usage: scripts/order-file.sh [BINARY]
# (default .build-static/release/capdeck: run `make static` first).
#
# Why: the packaged capdeck carries the Swift runtime and its libraries inside itself, and the
# functions a take runs are scattered through 15 MB of code. Each page fault maps the 64 KiB
# around it (the kernel's fault-around), so a few thousand functions kept most of the code
# resident. Linked first and together, in the order a take first runs them, they fill a few
# hundred KiB (Docs/benchmarks.md#memory gives the figures).
#
# The functions are those callgrind sees run in the executable (not in the shared libraries) over
# three takes: the built-in source, a file PCM, and a FLAC take with a config file. A function
# missing from the list (code changed since) still links, only later in the file: regenerate
# after larger changes; the list never affects what the program does.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-.build-static/release/capdeck}
[ -x "$BINARY" ] || { echo "order-file.sh: $BINARY: build it first (make static)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "order-file.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Valgrind 3.19 can't read the DWARF 5 the toolchain writes: the symbol table is enough.
strip --strip-debug -o "$W/capdeck" "$BINARY"
sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$W/in.raw" synth 5 sine 440 vol 0.5
printf 'pcm.order_file { type file slave.pcm null file "/dev/null" infile "%s" format "raw" }\n' "$W/in.raw" > "$W/.asoundrc"
printf '[input]\nrate = 48000\n' > "$W/config.toml"
n=0
for args in "-D builtin:pink -d 1 $W/t1.wav" "-D order_file -d 2 $W/t2.wav" "-D order_file -d 0.5 --config $W/config.toml $W/t3.flac"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  HOME=$W valgrind --tool=callgrind --demangle=no --callgrind-out-file="$W/cg.$n" "$W/capdeck" record -q $args >/dev/null 2>"$W/log.$n" ||
    { cat "$W/log.$n" >&2; echo "order-file.sh: the take under callgrind failed" >&2; exit 1; }
done
python3 - "$W/capdeck" "$W"/cg.* > packaging/capdeck.order <<'PY'
import re, subprocess, sys
code = set()
for line in subprocess.run(["nm", "--defined-only", sys.argv[1]], capture_output=True, text=True).stdout.splitlines():
    p = line.split(" ", 2)
    if len(p) == 3 and p[1] in "tTwW": code.add(p[2])
seen, order = set(), []
for path in sys.argv[2:]:
    names = {}  # callgrind names a function once, then by its number
    for line in open(path, errors="replace"):
        m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m: continue
        if m[2]: names[m[1]] = m[2]
        name = names.get(m[1])
        if name in code and name not in seen:
            seen.add(name); order.append(name)
print("\n".join(order))
PY
echo "order-file.sh: packaging/capdeck.order: $(wc -l < packaging/capdeck.order) functions"
# SwiftPM doesn't see a linker flag's file change: without the binary, the next `make static` relinks.
if [ "$BINARY" = .build-static/release/capdeck ]; then
  rm -f "$BINARY"
  echo "order-file.sh: removed $BINARY, so make static links it again with the list"
fi
