#!/usr/bin/env bash
# Memory and start-up of `capdeck record` and the console against arecord (issue 14). Sourced by
# scripts/bench.sh (after its own sections; it uses ROOT, WORK, RAW and median from there), or run
# alone: `bash scripts/bench-footprint.sh` (after `make build` and `make stage`). Prints Markdown.
#
# Two binaries: the release build `make run` and the tests use (.build/release/capdeck, the Swift
# runtime as shared libraries) and the packaged one users run (.build-package/stage/bin/capdeck,
# what `make deb` and `make install` ship: the runtime linked in; its unstripped copy in
# .build-static tells its pages apart).
#
# footprint_memory: 48 kHz stereo S16_LE to WAV at default settings from the built-in source, a
#   file PCM over PulseAudio (paced) and over null (unpaced): peak RSS (/usr/bin/time) of each
#   binary and of arecord, and what the resident pages are 2.5 s into the built-in take
#   (scripts/footprint-breakdown.py).
# footprint_startup: launch to each CAPDECK_TRACE_STARTUP milestone (Sources/CaptureCore/
#   StartupTrace.swift) and to the exit of a 0.1 s take, against arecord's exit; launch to the
#   first frame read, the same way for both (strace: the file plugin's first write of what it
#   read); launch to the console's first meters (in tmux).
FOOTPRINT_RUNS=${FOOTPRINT_RUNS:-7}

if [ -z "${ROOT:-}" ]; then  # run alone
  set -euo pipefail
  cd "$(dirname "$0")/.."
  ROOT=$PWD
  WORK=${BENCH_DIR:-/var/tmp/capdeck-bench}
  mkdir -p "$WORK"
  RAW=$WORK/infile-footprint.raw
  [ -f "$RAW" ] || sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$RAW" synth 40 sine 440 sine 660 vol 0.5
  median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
  FOOTPRINT_ALONE=1
fi
DEV_CAPDECK=$ROOT/.build/release/capdeck
PKG_CAPDECK=$ROOT/.build-package/stage/bin/capdeck
PKG_SYMBOLS=$ROOT/.build-static/release/capdeck

footprint_binaries() {  # "label path" lines for the binaries there are (FOOTPRINT_BUILDS: which)
  case " ${FOOTPRINT_BUILDS:-dev packaged} " in *" dev "*) [ -x "$DEV_CAPDECK" ] && echo "dev $DEV_CAPDECK" ;; esac
  case " ${FOOTPRINT_BUILDS:-dev packaged} " in *" packaged "*) [ -x "$PKG_CAPDECK" ] && echo "packaged $PKG_CAPDECK" ;; esac
  return 0
}

footprint_pcms() {  # the paced and the unpaced file PCM, in $1/.asoundrc (HOME for the takes)
  mkdir -p "$1"
  cat > "$1/.asoundrc" <<CONF
pcm.fp_paced { type file slave.pcm "pulse" file "/dev/null" infile "$RAW" format "raw" }
pcm.fp_file { type file slave.pcm null file "/dev/null" infile "$RAW" format "raw" }
CONF
}

# footprint_peak BINARY DEVICE SECONDS: peak RSS in KiB of one take
footprint_peak() {
  rm -f "$WORK/fp-take.wav"
  /usr/bin/time -f "%M" -o "$WORK/fp.peak" "$1" record -q -D "$2" -f S16_LE -r 48000 -c 2 -d "$3" "$WORK/fp-take.wav" </dev/null >/dev/null 2>&1 || true
  rm -f "$WORK/fp-take.wav"
  cat "$WORK/fp.peak"
}
footprint_peak_arecord() {  # DEVICE SECONDS
  rm -f "$WORK/fp-a.wav"
  /usr/bin/time -f "%M" -o "$WORK/fp.peak" arecord -q -D "$1" -f S16_LE -r 48000 -c 2 -d "$2" -V stereo -t wav "$WORK/fp-a.wav" >/dev/null 2>&1 || true
  rm -f "$WORK/fp-a.wav"
  cat "$WORK/fp.peak"
}
# footprint_median CMD...: the median of FOOTPRINT_RUNS (at least 3) runs of a command printing a number
footprint_median() {
  local i n=$(( FOOTPRINT_RUNS < 3 ? 3 : FOOTPRINT_RUNS ))
  for i in $(seq "$n"); do "$@"; done | median
}
# footprint_pages BINARY [UNSTRIPPED]: the breakdown 2.5 s into a 4 s built-in take
footprint_pages() {
  rm -f "$WORK/fp-pages.wav"
  "$1" record -q -D builtin:pink -f S16_LE -r 48000 -c 2 -d 4 "$WORK/fp-pages.wav" </dev/null >/dev/null 2>&1 &
  local pid=$!
  sleep 2.5
  python3 "$ROOT/scripts/footprint-breakdown.py" "$pid" ${2:+"$2"}
  wait "$pid" || true
  rm -f "$WORK/fp-pages.wav"
}

footprint_memory() {
  local FD; FD=$(mktemp -d)
  . "$ROOT/scripts/pulse-daemon.sh"
  pulse_start "$FD"
  footprint_pcms "$FD/home"
  local label bin b p f ab ap af
  echo "## Memory: peak RSS of \`record\`, 48 kHz stereo S16_LE to WAV, default settings (KiB, median of $(( FOOTPRINT_RUNS < 3 ? 3 : FOOTPRINT_RUNS )))"
  echo
  echo "3 s takes (the unpaced one 30 s of audio, over in a fraction of a second); arecord with \`-V stereo\` (its level meter) on the same PCM. Target: ≤ 16384 KiB."
  echo
  echo "| build | built-in source | file PCM over PulseAudio (paced) | file PCM over null (unpaced) |"
  echo "|---|---|---|---|"
  ab=—
  ap=$(HOME=$FD/home footprint_median footprint_peak_arecord fp_paced 3)
  af=$(HOME=$FD/home footprint_median footprint_peak_arecord fp_file 30)
  while read -r label bin <&3; do
    b=$(HOME=$FD/home footprint_median footprint_peak "$bin" builtin:pink 3)
    p=$(HOME=$FD/home footprint_median footprint_peak "$bin" fp_paced 3)
    f=$(HOME=$FD/home footprint_median footprint_peak "$bin" fp_file 30)
    echo "| capdeck, $label build | $b | $p ($(awk -v a="$p" -v b="$ap" 'BEGIN{printf "%.2f", a/b}') × arecord) | $f ($(awk -v a="$f" -v b="$af" 'BEGIN{printf "%.2f", a/b}') × arecord) |"
  done 3< <(footprint_binaries)
  echo "| arecord -V stereo | $ab | $ap | $af |"
  echo
  pulse_stop
  rm -rf "$FD"
  while read -r label bin <&3; do
    local symbols=""
    [ "$label" = packaged ] && [ -x "$PKG_SYMBOLS" ] && symbols=$PKG_SYMBOLS
    footprint_pages "$bin" "$symbols" > "$WORK/fp-$label.groups"
    echo "What the $label build's resident pages are, 2.5 s into a built-in take (KiB; scripts/footprint-breakdown.py):"
    echo
    echo "| what | KiB |"
    echo "|---|---|"
    awk -F'\t' '{printf "| %s | %s |\n", $2, $1}' "$WORK/fp-$label.groups"
    echo "| **total resident** | $(awk -F'\t' '{s+=$1} END{print s}' "$WORK/fp-$label.groups") |"
    echo
  done 3< <(footprint_binaries)
}

# startup_runs CMD...: FOOTPRINT_RUNS runs with CAPDECK_TRACE_STARTUP=1; the median ms from the
# launch to each milestone and to the exit: "main=… args-parsed=… … exit=…".
startup_runs() {
  python3 - "$FOOTPRINT_RUNS" "$@" <<'PY'
import os, subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
env = dict(os.environ, CAPDECK_TRACE_STARTUP="1")
marks = {}
out = cmd[-1]
for i in range(runs):
    if os.path.exists(out): os.remove(out)
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    for line in p.stderr.decode(errors="replace").splitlines():
        if line.startswith("capdeck-trace: "):
            _, name, ns = line.split()
            marks.setdefault(name, []).append((int(ns) - t0) / 1e6)
    marks.setdefault("exit", []).append((t1 - t0) / 1e6)
    if os.path.exists(out): os.remove(out)
print(" ".join(f"{k}={statistics.median(v):.1f}" for k, v in marks.items()))
PY
}

# first_read_runs CMD...: the median ms from the exec to the file plugin's first write of what it
# read (its `file "/dev/null"`), traced the same way for capdeck and arecord (strace, with a
# seccomp filter: only execve and write stop the process).
first_read_runs() {
  local i log=$WORK/fp-strace.log out=${!#}
  for i in $(seq "$FOOTPRINT_RUNS"); do
    rm -f "$out"
    strace -f --seccomp-bpf -ttt -y -e trace=execve,write -o "$log" "$@" </dev/null >/dev/null 2>&1 || true
    awk '/execve\(/ && !t0 {t0=$2} /write\([0-9]+<\/dev\/null>/ {printf "%.1f\n", ($2 - t0) * 1000; exit}' "$log"
    rm -f "$out"
  done | median
}

# console_first_meters BINARY: launch to the console's first meters in a 100x30 tmux pane (median ms).
console_first_meters() {
  local CD T="tmux -L capdeck-fp-$$" i
  CD=$(mktemp -d)
  for i in $(seq "$FOOTPRINT_RUNS"); do
    rm -f "$CD/trace"
    $T new-session -d -s fp -x 100 -y 30 \
      "python3 -c 'import time,os,sys; open(\"$CD/t0\",\"w\").write(str(time.clock_gettime_ns(time.CLOCK_MONOTONIC))); os.execvpe(sys.argv[1], sys.argv[1:], dict(os.environ, CAPDECK_TRACE_STARTUP=\"$CD/trace\"))' env LANG=C.UTF-8 TERM=xterm-256color HOME=$CD XDG_CONFIG_HOME=$CD/cfg XDG_STATE_HOME=$CD/state $1 -D builtin:pink -o $CD"
    for _ in $(seq 100); do grep -q first-meters "$CD/trace" 2>/dev/null && break; sleep 0.05; done
    $T send-keys -t fp q 2>/dev/null || true
    sleep 0.3
    $T kill-server 2>/dev/null || true
    awk -v t0="$(cat "$CD/t0" 2>/dev/null)" '$2 == "first-meters" {printf "%.1f\n", ($3 - t0) / 1e6}' "$CD/trace" 2>/dev/null || true
  done | median
  rm -rf "$CD"
}

footprint_startup() {
  local FD; FD=$(mktemp -d)
  . "$ROOT/scripts/pulse-daemon.sh"
  pulse_start "$FD"
  footprint_pcms "$FD/home"
  ms() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
  local af ap arf label bin cf cp crf ver meters
  af=$(HOME=$FD/home startup_runs arecord -q -D fp_file -f S16_LE -r 48000 -c 2 -s 4800 -t wav "$FD/a.wav")
  ap=$(HOME=$FD/home startup_runs arecord -q -D fp_paced -f S16_LE -r 48000 -c 2 -s 4800 -t wav "$FD/a.wav")
  arf=$(HOME=$FD/home first_read_runs arecord -q -D fp_file -f S16_LE -r 48000 -c 2 -s 4800 -t wav "$FD/a.wav")
  echo "## Start-up (median of $FOOTPRINT_RUNS, ms from launch)"
  echo
  echo "A 0.1 s take, 48 kHz stereo S16_LE to WAV; milestones from CAPDECK_TRACE_STARTUP; arecord records the same 4800 frames (\`-s 4800\`). First read: launch to the file plugin's first write of what was read, under strace for both programs (so slower than untraced, alike)."
  echo
  echo "| binary, PCM | main | args parsed | device open | first frame (writer) | exit | arecord exit | capdeck/arecord | first read, strace | arecord first read | capdeck/arecord |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  while read -r label bin <&3; do
    cf=$(HOME=$FD/home startup_runs "$bin" record -q -D fp_file -f S16_LE -r 48000 -c 2 -d 0.1 "$FD/s.wav")
    cp=$(HOME=$FD/home startup_runs "$bin" record -q -D fp_paced -f S16_LE -r 48000 -c 2 -d 0.1 "$FD/s.wav")
    crf=$(HOME=$FD/home first_read_runs "$bin" record -q -D fp_file -f S16_LE -r 48000 -c 2 -d 0.1 "$FD/s.wav")
    echo "| $label, unpaced file PCM | $(ms "$cf" main) | $(ms "$cf" args-parsed) | $(ms "$cf" device-open) | $(ms "$cf" first-frame) | $(ms "$cf" exit) | $(ms "$af" exit) | $(ratio "$(ms "$cf" exit)" "$(ms "$af" exit)") | $crf | $arf | $(ratio "$crf" "$arf") |"
    echo "| $label, paced over PulseAudio | $(ms "$cp" main) | $(ms "$cp" args-parsed) | $(ms "$cp" device-open) | $(ms "$cp" first-frame) | $(ms "$cp" exit) | $(ms "$ap" exit) | $(ratio "$(ms "$cp" exit)" "$(ms "$ap" exit)") | | | |"
  done 3< <(footprint_binaries)
  echo
  pulse_stop
  rm -rf "$FD"
  while read -r label bin <&3; do
    ver=$(startup_runs "$bin" --version)
    meters=$(console_first_meters "$bin")
    echo "- $label build: \`capdeck --version\` (loading, the Swift runtime, argument parsing) main $(ms "$ver" main) ms, exit $(ms "$ver" exit) ms; the console (100x30 tmux pane, built-in pink noise): first meters $meters ms after launch"
  done 3< <(footprint_binaries)
  echo
}

if [ -n "${FOOTPRINT_ALONE:-}" ]; then
  footprint_memory
  footprint_startup
fi
