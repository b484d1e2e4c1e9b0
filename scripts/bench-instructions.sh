# Sourced by scripts/bench.sh (or alone: `bash scripts/bench-instructions.sh` after a release
# build). Instructions per second of audio, capdeck record against arecord, under valgrind's
# callgrind: unlike CPU time on these shared machines, an instruction count is the same from run
# to run, so it is the figure to compare changes with (issue 14).
#
# Each command records INSTR_SHORT (1) and INSTR_LONG (11) seconds of 48 kHz stereo S16_LE from
# the unpaced test PCM (ALSA's file plugin over null, reading rt_signal's audio: a steady tone and
# speech); the difference over the INSTR_LONG - INSTR_SHORT seconds between them is the steady
# cost a second of audio, start-up and exit cancelled out. Every thread's user-space
# instructions are counted (the libraries' too); the kernel's work (system calls, wake-ups, the
# page-cache copy) is not: bench-realtime.sh's CPU times hold that.
#
# valgrind can't read the release binary's debug information ("Possibly corrupted debuginfo
# file"), so it runs a copy without it (objcopy --strip-debug): the same code.

instr_count() {  # instr_count COMMAND...: the instructions callgrind counted in the whole process
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | sed -n 's/.*I *refs: *//p' | tr -d ,
}

instr_measure() {
  local short=${INSTR_SHORT:-1} long=${INSTR_LONG:-11} sig cmd a b
  ID=$(mktemp -d)
  objcopy --strip-debug "$CAPDECK" "$ID/capdeck"
  INSTR_ROWS=""
  for sig in ${INSTR_SIGNALS:-sine speech}; do
    RT_SIGNAL=$sig rt_signal "$ID/$sig.raw" $((long + 2))
    mkdir -p "$ID/home"
    echo "pcm.instr { type file slave.pcm \"null\" file \"/dev/null\" infile \"$ID/$sig.raw\" format \"raw\" }" > "$ID/home/.asoundrc"
    for cmd in capdeck capdeck-nol arecord; do
      local n=()
      for d in "$short" "$long"; do
        rm -f "$ID/out.wav"
        case $cmd in
          capdeck) n+=("$(HOME=$ID/home instr_count "$ID/capdeck" record -q -D instr -d "$d" "$ID/out.wav")") ;;
          capdeck-nol) n+=("$(HOME=$ID/home instr_count "$ID/capdeck" record -q --no-loudness -D instr -d "$d" "$ID/out.wav")") ;;
          arecord) n+=("$(HOME=$ID/home instr_count arecord -q -D instr -f S16_LE -c 2 -r 48000 -V stereo -d "$d" "$ID/out.wav")") ;;
        esac
      done
      INSTR_ROWS+="$sig $cmd ${n[0]} ${n[1]}"$'\n'
    done
  done
  rm -rf "$ID"
}

instr_report() {
  local short=${INSTR_SHORT:-1} long=${INSTR_LONG:-11}
  echo "## Instructions per second of audio (callgrind; issue 14)"
  echo
  echo "48 kHz stereo S16_LE from the unpaced file PCM, ${short} s and ${long} s takes; per second = the difference / $((long - short)) s. User-space instructions of every thread (the kernel's work is in the real-time table's CPU times)."
  echo
  echo "| signal | command | whole ${short} s take | whole ${long} s take | per second of audio | ratio to arecord |"
  echo "|---|---|---|---|---|---|"
  echo -n "$INSTR_ROWS" | awk -v span=$((long - short)) '
    { sig[NR] = $1; cmd[NR] = $2; a[NR] = $3; b[NR] = $4; per[NR] = ($4 - $3) / span
      if ($2 == "arecord") ref[$1] = per[NR] }
    END {
      name["capdeck"] = "capdeck record (loudness on, the default)"
      name["capdeck-nol"] = "capdeck record --no-loudness"
      name["arecord"] = "arecord -V stereo"
      for (i = 1; i <= NR; i++)
        printf "| %s | %s | %.1f M | %.1f M | %.2f M | %.2f |\n", sig[i], name[cmd[i]], a[i] / 1e6, b[i] / 1e6, per[i] / 1e6, (ref[sig[i]] > 0 ? per[i] / ref[sig[i]] : 0)
    }'
  echo
}

# Alone: `bash scripts/bench-instructions.sh` (after `swift build -c release`).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  ROOT=$PWD
  CAPDECK=${CAPDECK:-$ROOT/.build/release/capdeck}
  . "$ROOT/scripts/bench-realtime.sh"
  instr_measure
  instr_report
fi
