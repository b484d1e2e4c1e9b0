#!/usr/bin/env bash
# make soak: the long reliability runs (not part of make test). Prints a Markdown report (also
# written to .build/soak-report.md).
#  1. kill -9 at 20 random moments of a real-time recording; recover; worst loss.
#  2. 24 hours of audio through an unpaced PCM (8 kHz mono S16, 1.4 GB) with a mix toggle about
#     every 3 simulated minutes: exact frame count, RSS, open files and threads at start and end.
#  3. The console in tmux for an hour on a paced PCM: xruns (scripts/soak-console.sh).
#  4. CPU load: stress-ng --cpu 2 at a 5 ms period, with and without SCHED_FIFO (scripts/stress.sh).
#  5. libFuzzer over the config parser and recover's header analysis (scripts/fuzz.sh).
#  6. The whole test suite, and the capdeck processes it starts, under AddressSanitizer and then
#     ThreadSanitizer (scripts/sanitize.sh, also `make sanitize`): tests run, reports, times.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAPDECK=$ROOT/.build/release/capdeck
WORK=${SOAK_DIR:-/var/tmp/capdeck-soak}
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
RATE=48000

# 1. Random kills.
worst=0; kills=""
for i in $(seq 20); do
  f="$WORK/kill-$i.wav"
  t=$(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.2f", 0.5 + rand() * 4.5}')
  "$CAPDECK" record -q -D builtin "$f" & pid=$!
  for _ in $(seq 200); do [ -f "$f" ] && break; sleep 0.01; done
  start=$(date +%s.%N)
  sleep "$t"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')
  "$CAPDECK" recover "$f" >/dev/null
  frames=$(soxi -s "$f")
  loss=$(awk -v e="$elapsed" -v f="$frames" -v r=$RATE 'BEGIN{l = e - f / r; printf "%.3f", (l < 0 ? 0 : l)}')
  kills="$kills $loss"
  worst=$(awk -v a="$worst" -v b="$loss" 'BEGIN{print (b > a ? b : a)}')
  rm -f "$f"
done

# 2. 24 hours of audio, unpaced, with route switches.
SR=8000
sox -n -r $SR -c 1 -b 16 -e signed -t raw "$WORK/in.raw" synth 60 sine 440 vol 0.5
cat > "$WORK/.asoundrc" <<CONF
pcm.soakA { type file slave.pcm null file "/dev/null" infile "$WORK/in.raw" format "raw" }
pcm.soakB { type file slave.pcm null file "/dev/null" infile "$WORK/in.raw" format "raw" }
CONF
mkfifo "$WORK/ctl"
HOME=$WORK "$CAPDECK" record -q -D soakA --exclusive-device soakA --shared-device soakB -f S16_LE -r $SR -c 1 \
  -d 86400 "$WORK/day.wav" < "$WORK/ctl" > "$WORK/status.jsonl" 2> "$WORK/stderr" &
pid=$!
exec 9> "$WORK/ctl"
sleep 0.5
sample() { echo "$(awk '/VmRSS/{print $2}' /proc/$pid/status 2>/dev/null) $(ls /proc/$pid/fd 2>/dev/null | wc -l) $(ls /proc/$pid/task 2>/dev/null | wc -l)"; }
first=$(sample); last=$first; toggles=0
while kill -0 "$pid" 2>/dev/null; do
  echo "toggle mix" >&9 2>/dev/null || break
  toggles=$((toggles + 1))
  s=$(sample); set -- $s; [ $# -eq 3 ] && [ "$2" -gt 0 ] && [ "$3" -gt 0 ] && last=$s  # (not an exiting process's partial /proc)
  sleep 0.05
done
exec 9>&- || true
wait "$pid"; rc=$?
frames=$(soxi -s "$WORK/day.wav")
switches=$(grep -c "route changed" "$WORK/stderr" || true)

REPORT=$ROOT/.build/soak-report.md
mkdir -p "$ROOT/.build"
{
  echo "## make soak ($(date -u +%Y-%m-%d))"
  echo
  echo "- kill -9 at 20 random moments (0.5-5 s) of a clock-paced recording, then recover: worst loss ${worst} s; losses (s):$kills"
  echo "- 24 h of 8 kHz mono audio through an unpaced PCM: exit $rc, $frames frames (expected $((86400 * SR))), $toggles mix toggles sent"
  echo "- RSS KiB / open fds / threads at start: $first; at end: $last"
} | tee "$REPORT"

# 3-6 (each prints its own lines).
# (One failing part is reported and the others still run.)
{
  bash scripts/soak-console.sh || echo "- scripts/soak-console.sh FAILED (exit $?)"
  echo
  bash scripts/stress.sh || echo "- scripts/stress.sh FAILED (exit $?)"
  echo
  bash scripts/fuzz.sh || echo "- scripts/fuzz.sh FAILED (exit $?)"
  echo
  bash scripts/sanitize.sh || echo "- scripts/sanitize.sh FAILED or found reports (exit $?)"
} | tee -a "$REPORT"
