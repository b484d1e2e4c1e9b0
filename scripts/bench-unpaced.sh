#!/usr/bin/env bash
# make bench's unpaced sections (sourced by bench.sh; runs alone too, printing its report):
# capdeck record against arecord on ALSA's file plugin over null, reading a raw infile as fast as
# the disk takes it, interleaved runs, wall and CPU (user+sys of the process) from /usr/bin/time.
#   Throughput: SECONDS_OF_AUDIO (3600) of 48 kHz stereo S16_LE to WAV, RUNS (5) times: capdeck
#     (loudness on, the default), capdeck --no-loudness, arecord -V stereo, and arecord followed
#     by `sync -d` (capdeck fdatasyncs each second; arecord leaves its data in the page cache).
#   Scale: SCALE_CHANNELS ("2 8 32 64") of S32_LE at 96 kHz, SCALE_SECONDS (600) each, to W64
#     and RF64, loudness on and --no-loudness, against arecord -c N -t raw (it writes neither
#     W64 nor RF64, and splits a WAV at 2 GB), SCALE_RUNS (1) times, with the CPU per
#     channel-sample. The infile is random 32-bit words (the meters' worst case).
# Needs ROOT, CAPDECK and median (bench.sh's) when sourced; WORK: BENCH_DIR or /var/tmp/capdeck-bench.

# up_measure NAME COMMAND...: appends "wall cpu rss" to $WORK/up-NAME.times.
up_measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/up-time.tmp" "$@" >/dev/null 2>&1
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$WORK/up-time.tmp" >> "$WORK/up-$name.times"
  rm -f "$WORK"/up-out-*
}
up_col() { awk -v c="$2" '{print $c}' "$WORK/up-$1.times" | median; }
up_ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}'; }
up_ns() { awk -v c="$1" -v m="$2" 'BEGIN{printf "%.2f", c / m * 1e9}'; }  # CPU s / channel-samples

up_pcms() {
  RAW=$WORK/infile-s16-48k-2ch.raw
  local need=$(( (SECONDS_OF_AUDIO + 5) * 48000 * 4 ))
  if [ ! -f "$RAW" ] || [ "$(stat -c %s "$RAW")" -lt "$need" ]; then
    sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$RAW" synth $((SECONDS_OF_AUDIO + 5)) sine 440 sine 660 vol 0.5
  fi
  BIG=$WORK/infile-random-s32.raw
  local maxch
  maxch=$(echo "$SCALE_CHANNELS" | tr ' ' '\n' | sort -g | tail -1)
  need=$(( (SCALE_SECONDS + 1) * 96000 * 4 * maxch ))
  if [ ! -f "$BIG" ] || [ "$(stat -c %s "$BIG")" -lt "$need" ]; then
    head -c "$need" /dev/urandom > "$BIG"
  fi
  cat > "$WORK/.asoundrc" <<CONF
pcm.benchpcm { type file slave.pcm null file "/dev/null" infile "$RAW" format "raw" }
pcm.bigpcm { type file slave.pcm null file "/dev/null" infile "$BIG" format "raw" }
CONF
}

unpaced_measure() {
  local s=$SECONDS_OF_AUDIO i
  rm -f "$WORK"/up-*.times
  for i in $(seq "$RUNS"); do
    up_measure cap "$CAPDECK" record -q -D benchpcm -f S16_LE -r 48000 -c 2 -d "$s" "$WORK/up-out-c.wav"
    up_measure capoff "$CAPDECK" record -q --no-loudness -D benchpcm -f S16_LE -r 48000 -c 2 -d "$s" "$WORK/up-out-n.wav"
    up_measure arec arecord -q -D benchpcm -f S16_LE -r 48000 -c 2 -d "$s" -V stereo -t wav "$WORK/up-out-a.wav"
    up_measure arecsync sh -c "arecord -q -D benchpcm -f S16_LE -r 48000 -c 2 -d $s -V stereo -t wav $WORK/up-out-s.wav && sync -d $WORK/up-out-s.wav"
  done
  cw=$(up_col cap 1); cc=$(up_col cap 2); cr=$(up_col cap 3)
  nw=$(up_col capoff 1); nc=$(up_col capoff 2); nr=$(up_col capoff 3)
  aw=$(up_col arec 1); ac=$(up_col arec 2); ar=$(up_col arec 3)
  sw=$(up_col arecsync 1); sc=$(up_col arecsync 2)
}

unpaced_report() {
  echo "## Throughput, unpaced: ${SECONDS_OF_AUDIO} s of 48 kHz stereo S16_LE to WAV (median of $RUNS)"
  echo
  echo "From the unpaced file-over-null PCM to a WAV in $WORK; capdeck rewrites the header and fdatasyncs each second."
  echo
  echo "| command | wall s | CPU s (user+sys) | peak RSS KiB | wall / arecord's | CPU / arecord's |"
  echo "|---|---|---|---|---|---|"
  echo "| capdeck record (loudness on) | $cw | $cc | $cr | $(up_ratio "$cw" "$aw") | $(up_ratio "$cc" "$ac") |"
  echo "| capdeck record --no-loudness | $nw | $nc | $nr | $(up_ratio "$nw" "$aw") | $(up_ratio "$nc" "$ac") |"
  echo "| arecord -V stereo | $aw | $ac | $ar | 1.00 | 1.00 |"
  echo "| arecord -V stereo, then sync -d | $sw | $sc | | $(up_ratio "$sw" "$aw") | $(up_ratio "$sc" "$ac") |"
  echo
  echo "Raw runs (wall CPU RSS): capdeck: $(tr '\n' ';' < "$WORK/up-cap.times") --no-loudness: $(tr '\n' ';' < "$WORK/up-capoff.times") arecord: $(tr '\n' ';' < "$WORK/up-arec.times")"
  echo
}

scale_measure() {
  local s=$SCALE_SECONDS n t i
  for n in $SCALE_CHANNELS; do
    rm -f "$WORK"/up-s"$n"-*.times
    for i in $(seq "$SCALE_RUNS"); do
      for t in w64 rf64; do
        up_measure "s$n-$t" "$CAPDECK" record -q -D bigpcm -f S32_LE -r 96000 -c "$n" -d "$s" -t "$t" "$WORK/up-out-s.$t"
        up_measure "s$n-$t-off" "$CAPDECK" record -q --no-loudness -D bigpcm -f S32_LE -r 96000 -c "$n" -d "$s" -t "$t" "$WORK/up-out-s.$t"
      done
      up_measure "s$n-arec" arecord -q -D bigpcm -f S32_LE -r 96000 -c "$n" -d "$s" -t raw "$WORK/up-out-a.raw"
    done
  done
}

scale_report() {
  local s=$SCALE_SECONDS n t
  echo "## Scale: S32_LE at 96 kHz, ${s} s each, unpaced (median of $SCALE_RUNS)"
  echo
  echo "capdeck record to W64 and RF64 (a checkpoint and fdatasync each second), loudness on (the default) and --no-loudness; arecord -c N -t raw. CPU ns per channel-sample: CPU s / (channels × 96000 × ${s})."
  echo
  echo "| channels | file | capdeck wall / CPU s | --no-loudness wall / CPU s | arecord wall / CPU s | --no-loudness / arecord: wall, CPU | ns per channel-sample: capdeck, --no-loudness, arecord |"
  echo "|---|---|---|---|---|---|---|"
  for n in $SCALE_CHANNELS; do
    local aw ac m
    aw=$(up_col "s$n-arec" 1); ac=$(up_col "s$n-arec" 2); m=$((n * 96000 * s))
    for t in w64 rf64; do
      local w c ow oc
      w=$(up_col "s$n-$t" 1); c=$(up_col "s$n-$t" 2); ow=$(up_col "s$n-$t-off" 1); oc=$(up_col "s$n-$t-off" 2)
      echo "| $n | $t | $w / $c | $ow / $oc | $aw / $ac | $(up_ratio "$ow" "$aw"), $(up_ratio "$oc" "$ac") | $(up_ns "$c" $m), $(up_ns "$oc" $m), $(up_ns "$ac" $m) |"
    done
  done
  echo
}

RUNS=${RUNS:-5}
SECONDS_OF_AUDIO=${SECONDS_OF_AUDIO:-3600}
SCALE_SECONDS=${SCALE_SECONDS:-600}
SCALE_CHANNELS=${SCALE_CHANNELS:-"2 8 32 64"}
SCALE_RUNS=${SCALE_RUNS:-1}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  ROOT=$PWD
  CAPDECK=${CAPDECK:-$ROOT/.build/release/capdeck}
  WORK=${BENCH_DIR:-/var/tmp/capdeck-bench}
  mkdir -p "$WORK" "$ROOT/.build"
  trap 'rm -f "$WORK"/up-out-*' EXIT
  export HOME=$WORK
  median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
  up_pcms
  [ -n "${SKIP_UNPACED:-}" ] || unpaced_measure
  [ -n "${SKIP_SCALE:-}" ] || scale_measure
  {
    [ -n "${SKIP_UNPACED:-}" ] || unpaced_report
    [ -n "${SKIP_SCALE:-}" ] || scale_report
  } | tee "$ROOT/.build/bench-unpaced.md"
fi
