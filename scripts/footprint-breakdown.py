#!/usr/bin/env python3
# What a running process's resident pages are (make bench's memory section, scripts/bench-footprint.sh).
# Usage: footprint-breakdown.py PID [UNSTRIPPED_COPY_OF_ITS_EXECUTABLE]
# Prints "KiB<TAB>what" lines, largest first: every mapping's Rss (/proc/PID/smaps) by what it
# is; with the executable's unstripped copy (a statically linked capdeck carries the Swift runtime
# and its libraries inside itself), the executable's resident pages (/proc/PID/pagemap) split by
# the section and, for code and data, the module of the symbol at each page ("in capdeck: …").
# The process is read first, before the slow symbol work, so it may exit meanwhile.
import bisect, collections, re, struct, subprocess, sys

pid = sys.argv[1]
unstripped = sys.argv[2] if len(sys.argv) > 2 else None
exe = subprocess.run(["readlink", f"/proc/{pid}/exe"], capture_output=True, text=True).stdout.strip()
maps, cur = [], None
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \S+\s*(.*)$", line)
    if m:
        cur = dict(start=int(m[1], 16), end=int(m[2], 16), off=int(m[4], 16), name=m[5], rss=0, locked=0)
        maps.append(cur)
    elif line.startswith("Rss:"):
        cur["rss"] = int(line.split()[1])
    elif line.startswith("Locked:"):
        cur["locked"] = int(line.split()[1])
base = next((mp["start"] for mp in maps if mp["name"] == exe and mp["off"] == 0), None)
present = []
if unstripped and base is not None:
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for mp in maps:
            # The executable's mappings, and its .bss (anonymous, right after them).
            if mp["name"] != exe and not (mp["name"] == "" and base <= mp["start"] < base + (1 << 28)):
                continue
            pm.seek(mp["start"] // 4096 * 8)
            entries = pm.read((mp["end"] - mp["start"]) // 4096 * 8)
            for i in range(len(entries) // 8):
                if struct.unpack_from("<Q", entries, i * 8)[0] >> 63:
                    present.append(mp["start"] + i * 4096 - base)

LIBS = [
    ("Swift runtime and libraries (libswift*, libdispatch, Foundation*)", r"libswift|libdispatch|libBlocksRuntime|Foundation|ICU"),
    ("C and C++ runtime (libc, libm, libstdc++, libgcc_s, ld.so)", r"libc\.so|libm\.so|libstdc\+\+|libgcc_s|ld-linux"),
    ("ALSA (libasound, its plugins)", r"libasound|alsa-lib/"),
    ("libpulse and what it alone links (X11, xcb…), when it is loaded", r"libpulse|libX11|libxcb|libXau|libXdmcp|libasyncns|libbsd|libmd\."),
    ("libsystemd and what it links (gcrypt, lz4, zstd…), for libdbus", r"libsystemd|libgcrypt|libgpg-error|liblz4|libzstd|liblzma|libcap\."),
    ("libsndfile and its codecs (FLAC, Vorbis, Opus, MP3)", r"libsndfile|libFLAC|libvorbis|libogg|libopus|libmpg123|libmp3lame"),
    ("other libraries (libebur128, libsamplerate, libdbus, ncurses)", r"\.so"),
]
out = collections.Counter()
for mp in maps:
    name, kib = mp["name"], (mp["end"] - mp["start"]) // 1024
    if name == exe or (present and name == "" and base <= mp["start"] < base + (1 << 28)):
        if not present: out["capdeck (the executable)"] += mp["rss"]
        continue
    if name == "[heap]": g = "heap (brk)"
    elif name == "[stack]": g = "main thread stack"
    elif name.startswith("["): g = "kernel (vdso, vvar)"
    elif name == "":
        if mp["locked"]:
            out["capture ring (mlocked)"] += mp["locked"]
        g = "thread stacks, malloc arenas, large buffers (the meters' windows)"
        mp["rss"] -= mp["locked"]
    else: g = next((g for g, rx in LIBS if re.search(rx, name)), "other files")
    out[g] += mp["rss"]

if present:
    def lines(cmd): return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()
    syms = []
    for line in lines(["nm", "-n", "--defined-only", unstripped]):
        p = line.split(" ", 2)
        if len(p) == 3: syms.append((int(p[0], 16), p[2]))
    addrs = [a for a, _ in syms]
    secs = []
    for l in lines(["readelf", "-SW", unstripped]):
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", l)
        if m and int(m[2], 16): secs.append((int(m[2], 16), int(m[2], 16) + int(m[3], 16), m[1]))
    OURS = {"capdeck", "CaptureApp", "CaptureDeck", "CaptureCore", "CaptureALSA", "CaptureFiles", "CaptureLoudness",
            "CaptureResample", "CapturePulse", "CaptureDBus", "CaptureConfig", "CaptureConsole", "ConsoleUI"}
    def module(a):
        i = bisect.bisect_right(addrs, a) - 1
        r = syms[i][1] if i >= 0 else ""
        m = re.match(r"^\$s(\d+)", r)
        if m:
            mod = r[2 + len(m[1]):2 + len(m[1]) + int(m[1])]
            if mod in OURS: return "capdeck's own modules"
            if mod.startswith("ArgumentParser"): return "swift-argument-parser"
            if "Foundation" in mod: return "Foundation, FoundationEssentials"
            if mod in ("Swift", "_Concurrency", "_StringProcessing", "_RegexParser", "Synchronization", "Glibc", "Dispatch"):
                return "Swift standard library"
            return "Swift package " + mod
        if r.startswith("$s"): return "Swift standard library"
        if r.startswith("swift_") or r.startswith("_swift") or "swift" in r: return "Swift runtime"
        if "dispatch" in r: return "libdispatch"
        if "toml" in r: return "toml++ (the config parser)"
        return "C and C++ code linked in"
    for a in present:
        sec = next((n for lo, hi, n in secs if lo <= a < hi), "")
        if sec in (".text", ".rodata", ".data", ".data.rel.ro", ".bss", ".tbss", ".tdata"):
            what = module(a)
        elif sec.startswith(".rela") or sec.startswith(".relr") or sec.startswith(".dyn") or sec.startswith(".gnu"):
            what = "dynamic linking (relocations, symbol tables)"
        elif sec.startswith("swift5"):
            what = "Swift metadata (swift5_* sections)"
        else:
            what = "unwind tables and the rest (.eh_frame…)"
        out["in capdeck: " + what] += 4
for g, v in out.most_common():
    if v > 0: print(f"{v}\t{g}")
