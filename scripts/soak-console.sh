#!/usr/bin/env bash
# Part of make soak (can run alone): the console in a tmux pane records from a real-time paced PCM
# (the ALSA file plugin over a real PulseAudio daemon) at the default period for
# SOAK_CONSOLE_SECONDS (default 3600). Reports the console's own xrun count, the frames in the
# file against the wall-clock time, and the file's validity. Prints one Markdown line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAPDECK=${CAPDECK:-$ROOT/.build/release/capdeck}
SECONDS_WANTED=${SOAK_CONSOLE_SECONDS:-3600}
WORK=$(mktemp -d /var/tmp/capdeck-soak-console.XXXXXX)
T="tmux -L capdeck-soak-$$ -f /dev/null"
. scripts/pulse-daemon.sh
cleanup() { $T kill-server 2>/dev/null || true; pulse_stop 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

pulse_start "$WORK/pulse"
mkdir -p "$WORK/home" "$WORK/rec"
# 60 s of a 440 Hz tone; past its end the file plugin repeats the last period.
sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$WORK/in.raw" synth 60 sine 440 vol 0.5
cat > "$WORK/home/.asoundrc" <<CONF
pcm.paced { type file slave.pcm "pulse" file "/dev/null" infile "$WORK/in.raw" format "raw" }
CONF
$T new-session -d -s ui -x 100 -y 30 "env -i PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=xterm-256color \
  HOME=$WORK/home XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR PULSE_SERVER=$PULSE_SERVER \
  $CAPDECK console -D paced -o $WORK/rec --name soak; echo EXIT=\$?; sleep 600"
screen() { $T capture-pane -t ui -p; }
fail() { echo "- console soak FAILED: $1"; screen | sed 's/^/    /'; exit 1; }
for _ in $(seq 100); do screen | grep -q "Route paced" && break; sleep 0.1; done
screen | grep -q "Route paced" || fail "the console never started capturing"
$T send-keys -t ui r
for _ in $(seq 100); do [ -f "$WORK/rec/soak.wav" ] && break; sleep 0.05; done
[ -f "$WORK/rec/soak.wav" ] || fail "r did not start a recording"
start=$(date +%s.%N)
sleep "$SECONDS_WANTED"
xruns=$(screen | sed -n 's/.*xruns \([0-9]*\).*/\1/p' | sed -n 1p)
$T send-keys -t ui r
stop=$(date +%s.%N)
sleep 2
$T send-keys -t ui q
for _ in $(seq 100); do screen | grep -q "EXIT=" && break; sleep 0.1; done
code=$(screen | sed -n 's/.*EXIT=\([0-9]*\).*/\1/p' | sed -n 1p)
frames=$(soxi -s "$WORK/rec/soak.wav")
sox "$WORK/rec/soak.wav" -n stat >/dev/null 2>&1 && valid=yes || valid=no
awk -v s="$start" -v e="$stop" -v f="$frames" -v x="${xruns:-?}" -v c="${code:-?}" -v v="$valid" \
  -v w="$SECONDS_WANTED" 'BEGIN {
  wall = e - s; audio = f / 48000
  printf "- console in tmux, paced PCM (PulseAudio), default 10 ms period, %d s: xruns %s, %.2f s of audio in %.2f s of wall time (difference %.3f s, the key-press latency), file valid in sox: %s, exit %s\n", w, x, audio, wall, wall - audio, v, c
}'
