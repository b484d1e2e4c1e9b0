#!/usr/bin/env bash
# Part of make soak (can run alone): recording from the real-time paced PCM (ALSA file plugin over
# a real PulseAudio daemon) at a 5 ms period, STRESS_SECONDS (default 60) of audio per run:
# idle and under `stress-ng --cpu 2` (both cores busy), with and without SCHED_FIFO, and arecord
# under the same load as the anchor. Reports xruns and how much later than the audio's own length
# each recording finished (wall - audio: start-up plus any audio the sound server had to drop).
# Then the same loads against capdeck-bench's hardware-like source (a clock-paced ring of 20 ms
# that loses the oldest audio when the capture thread is late, as a sound card does; PulseAudio
# buffers such lateness away), also with 16 CPU hogs. Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAPDECK=${CAPDECK:-$ROOT/.build/release/capdeck}
BENCH=${BENCH:-$ROOT/.build/release/capdeck-bench}
SECS=${STRESS_SECONDS:-60}
WORK=$(mktemp -d /var/tmp/capdeck-stress.XXXXXX)
. scripts/pulse-daemon.sh
STRESS_PID=
cleanup() {
  [ -n "$STRESS_PID" ] && kill "$STRESS_PID" 2>/dev/null || true
  pulse_stop 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v stress-ng >/dev/null || { echo "stress.sh: stress-ng is needed (make soak installs it)" >&2; exit 69; }

pulse_start "$WORK/pulse"
mkdir -p "$WORK/home"
sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$WORK/in.raw" synth 30 sine 440 vol 0.5
cat > "$WORK/home/.asoundrc" <<CONF
pcm.paced { type file slave.pcm "pulse" file "/dev/null" infile "$WORK/in.raw" format "raw" }
CONF
export HOME=$WORK/home

load_on()  { stress-ng --cpu "${1:-2}" --timeout 0 --quiet & STRESS_PID=$!; sleep 1; }  # until load_off
load_off() { kill "$STRESS_PID" 2>/dev/null || true; wait "$STRESS_PID" 2>/dev/null || true; STRESS_PID=; sleep 1; }

run() {  # run LABEL PROGRAM ARGS...: one recording of SECS s; prints a Markdown line
  local label=$1; shift
  local out=$WORK/take.wav err=$WORK/err
  rm -f "$out"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" "$out" 2> "$err" || true
  t1=$(date +%s.%N)
  local frames xr
  frames=$(soxi -s "$out" 2>/dev/null || echo 0)
  if grep -q "xrun" "$err"; then
    xr=$(sed -n 's/.*, \([0-9]*\) xruns\{0,1\}$/\1/p' "$err" | tail -1)
  else
    xr=$(grep -c "overrun" "$err" || true)  # arecord prints one line per overrun
  fi
  awk -v l="$label" -v a="$t0" -v b="$t1" -v f="$frames" -v x="${xr:-?}" -v s="$SECS" 'BEGIN {
    wall = b - a; audio = f / 48000
    printf "| %s | %s | %.3f | %.3f | %d |\n", l, x, audio, wall - audio, (f == s * 48000) ? 1 : 0
  }'
}

# STRESS_PERIOD="" runs capdeck at record's default period (100 ms) instead of 5 ms.
STRESS_PERIOD=${STRESS_PERIOD-5000}
CD=("$CAPDECK" record -D paced -f S16_LE -r 48000 -c 2 ${STRESS_PERIOD:+-F "$STRESS_PERIOD"} -d "$SECS")
AR=(arecord -q -D paced -f S16_LE -r 48000 -c 2 --period-time=5000 -d "$SECS" -t wav)
echo "| run ($SECS s of audio, 5 ms period) | xruns | audio (s) | wall - audio (s) | complete |"
echo "|---|---|---|---|---|"
run "capdeck, idle, SCHED_FIFO" "${CD[@]}"
run "capdeck, idle, normal priority" "${CD[@]}" --no-realtime
load_on
run "capdeck, stress-ng --cpu 2, SCHED_FIFO" "${CD[@]}"
run "capdeck, stress-ng --cpu 2, normal priority" "${CD[@]}" --no-realtime
run "arecord, stress-ng --cpu 2 (anchor)" "${AR[@]}"
load_off

# The hardware-like ring: xruns and dropped frames are the capture thread's lateness itself.
hw() {  # hw LABEL [env...]: one capdeck-bench run of SECS s at a 5 ms period, 20 ms buffer
  local label=$1; shift
  local out
  out=$(env "$@" "$BENCH" builtin-hw $((SECS * 200)) 5000 20000)
  local x d
  x=$(echo "$out" | sed -n 's/.* xruns=\([0-9]*\).*/\1/p')
  d=$(echo "$out" | sed -n 's/.* dropped_frames=\([0-9]*\).*/\1/p')
  awk -v l="$label" -v x="$x" -v d="$d" 'BEGIN { printf "| %s | %s | %s (%.1f ms) |\n", l, x, d, d / 48 }'
}
echo
echo "| capture engine on a hardware-like 20 ms ring ($SECS s, 5 ms period) | xruns | dropped frames |"
echo "|---|---|---|"
hw "idle, SCHED_FIFO"
hw "idle, normal priority" CAPDECK_BENCH_NORT=1
load_on 2
hw "stress-ng --cpu 2, SCHED_FIFO"
hw "stress-ng --cpu 2, normal priority" CAPDECK_BENCH_NORT=1
load_off
load_on 16
hw "stress-ng --cpu 16, SCHED_FIFO"
hw "stress-ng --cpu 16, normal priority" CAPDECK_BENCH_NORT=1
load_off
