#!/usr/bin/env bash
# make bench: capdeck vs arecord on the same unpaced ALSA test PCM, plus capture-path allocations.
# Prints a Markdown report (also written to .build/bench-report.md). Needs `make deps` and a
# release build (the Makefile does both).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
SECONDS_OF_AUDIO=${SECONDS_OF_AUDIO:-3600}
WORK=${BENCH_DIR:-/var/tmp/capdeck-bench}
CAPDECK=$ROOT/.build/release/capdeck
BENCH=$ROOT/.build/release/capdeck-bench
mkdir -p "$WORK"
trap 'rm -f "$WORK"/up-out-*' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Throughput and scale, unpaced (scripts/bench-unpaced.sh): the test PCMs are ALSA's file plugin
# over null, reading raw infiles longer than the runs. SCALE_SECONDS (600), SCALE_CHANNELS
# ("2 8 32 64") and SCALE_RUNS (1) size the scale runs; SKIP_SCALE=1 leaves them out.
. "$ROOT/scripts/bench-unpaced.sh"
export HOME=$WORK
up_pcms
unpaced_measure
[ -n "${SKIP_SCALE:-}" ] || scale_measure
alloc=$("$BENCH" benchpcm 20000 10000)
alloc_small=$("$BENCH" benchpcm 20000 1000)

# Route re-negotiation: 20 mix toggles between two paced PCMs over a real PulseAudio daemon.
. "$ROOT/scripts/pulse-daemon.sh"
PD=$(mktemp -d)
pulse_start "$PD"
sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$PD/a.raw" synth 120 sine 440 vol 0.25
sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$PD/b.raw" synth 120 sine 1000 vol 0.25
cat > "$PD/home/.asoundrc" <<CONF
pcm.toneA { type file slave.pcm "pulse" file "/dev/null" infile "$PD/a.raw" format "raw" }
pcm.toneB { type file slave.pcm "pulse" file "/dev/null" infile "$PD/b.raw" format "raw" }
CONF
mkfifo "$PD/ctl"
HOME=$PD/home "$CAPDECK" record -D toneA --exclusive-device toneA --shared-device toneB "$PD/toggles.wav" \
  < "$PD/ctl" > "$PD/stdout" 2> "$PD/stderr" &
CAP=$!
exec 9> "$PD/ctl"
sleep 1.5
for i in $(seq 20); do echo "toggle mix" >&9; sleep 0.4; done
echo stop >&9; exec 9>&-
wait "$CAP" || true
pulse_stop
gaps=$(sed -n 's/.*route changed:.*gap \([0-9.]*\) ms.*/\1/p' "$PD/stderr")
ngaps=$(echo "$gaps" | grep -c . || true)
gmed=$(echo "$gaps" | median)
gmax=$(echo "$gaps" | sort -g | tail -1)
rm -rf "$PD"

# Real-time CPU and the console's cost (issue 14): functions, so other sections merge apart.
. "$ROOT/scripts/bench-realtime.sh"
rt_cpu_measure
console_cost_measure
loudness_cost_measure
# Instructions per second of audio under callgrind, the steady figure beside those CPU times.
. "$ROOT/scripts/bench-instructions.sh"
instr_measure

# Loudness and true peak (EBU R128, libebur128), beside the headless takes above (on and
# --no-loudness): one meter over noise (CPU per second of audio, allocations in process and per
# reading, peak RSS), and an unpaced engine run whose writer meters or not, watching the capture
# thread's allocations (capdeck-bench loudness).
/usr/bin/time -f "%M" -o "$WORK/loud2.rss" "$BENCH" loudness 2 48000 60 > "$WORK/loud2.out"
/usr/bin/time -f "%M" -o "$WORK/loud32.rss" "$BENCH" loudness 32 96000 20 > "$WORK/loud32.out"
# The same stereo meter over speech (rt_signal's), where most blocks can't raise the true peak.
RT_SIGNAL=speech rt_signal "$WORK/speech.raw" 60
"$BENCH" loudness 2 48000 60 "$WORK/speech.raw" > "$WORK/loud2s.out"
loud2=$(cat "$WORK/loud2.out"); loud32=$(cat "$WORK/loud32.out"); loud2s=$(cat "$WORK/loud2s.out")
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
pct() { awk -v v="$(kv "$1" "$2")" 'BEGIN{printf "%.2f%%", v * 100}'; }
r2() { awk -v v="$(kv "$1" "$2")" 'BEGIN{printf "%.2f", v}'; }
# Paced 20 s takes of 32 channels at 96 kHz (the built-in pink noise) to WAV, with loudness (the
# take's meter and the file's) and without: CPU seconds and peak RSS.
LD=$(mktemp -d)
take32() {
  /usr/bin/time -f "%U %S %M" -o "$LD/t" "$CAPDECK" record -q "$@" -D builtin:pink -f S32_LE -r 96000 -c 32 -d 20 "$LD/take.wav" >/dev/null 2>&1
  rm -f "$LD/take.wav"
  awk '{printf "%.2f CPU s, %d KiB", $1 + $2, $3}' "$LD/t"
}
t32on=$(take32); t32off=$(take32 --no-loudness)
rm -rf "$LD"

REPORT=$ROOT/.build/bench-report.md
{
  unpaced_report
  [ -n "${SKIP_SCALE:-}" ] || scale_report
  echo "## Heap allocations on the capture thread (after start)"
  echo
  echo "- 10 ms periods: $alloc"
  echo "- 1 ms periods: $alloc_small"
  echo
  echo "## Route re-negotiation (mix toggles between two paced PCMs over PulseAudio)"
  echo
  echo "- switches: $ngaps of 20; gap median $gmed ms, max $gmax ms (target: median < 20, max < 50)"
  echo "- gaps (ms): $(echo $gaps | tr '\n' ' ')"
  echo
  rt_cpu_report
  instr_report
  console_cost_report
  loudness_cost_report
  echo "## Loudness and true peak (EBU R128)"
  echo
  echo "| | 2 ch, 48 kHz, S16_LE | 32 ch, 96 kHz, S32_LE |"
  echo "|---|---|---|"
  echo "| one meter: share of a core | $(pct "$loud2" core_fraction) | $(pct "$loud32" core_fraction) |"
  echo "| one meter over speech instead of noise | $(pct "$loud2s" core_fraction) | |"
  echo "| true-peak blocks fed / skipped (noise; speech) | $(kv "$loud2" true_peak_blocks_fed) / $(kv "$loud2" skipped); $(kv "$loud2s" true_peak_blocks_fed) / $(kv "$loud2s" skipped) | $(kv "$loud32" true_peak_blocks_fed) / $(kv "$loud32" skipped) |"
  echo "| allocations in process (after init) | $(kv "$loud2" process_allocations) | $(kv "$loud32" process_allocations) |"
  echo "| allocations per reading (10 a second) | $(kv "$loud2" reading_allocations) in $(kv "$loud2" readings) | $(kv "$loud32" reading_allocations) in $(kv "$loud32" readings) |"
  echo "| unpaced engine, writer off / on (s for $(kv "$loud2" audio_seconds) / $(kv "$loud32" audio_seconds) s of audio) | $(r2 "$loud2" engine_wall_off_s) / $(r2 "$loud2" engine_wall_on_s) | $(r2 "$loud32" engine_wall_off_s) / $(r2 "$loud32" engine_wall_on_s) |"
  echo "| capture-thread allocations, loudness off / on | $(kv "$loud2" capture_allocations_off) / $(kv "$loud2" capture_allocations_on) | $(kv "$loud32" capture_allocations_off) / $(kv "$loud32" capture_allocations_on) |"
  echo "| peak RSS of that process, KiB | $(cat "$WORK/loud2.rss") | $(cat "$WORK/loud32.rss") |"
  echo
  echo "Paced 20 s take, 32 ch at 96 kHz to WAV: loudness on $t32on; --no-loudness $t32off."
  echo
  echo "capdeck record of the ${SECONDS_OF_AUDIO} s above: loudness on $cw s wall, $cc CPU s, $cr KiB; --no-loudness $nw s wall, $nc CPU s, $nr KiB (median of $RUNS)."
} | tee "$REPORT"

# Memory and start-up against arecord, the dev and the packaged build (scripts/bench-footprint.sh).
. "$ROOT/scripts/bench-footprint.sh"
{ footprint_memory; footprint_startup; } | tee -a "$REPORT"
