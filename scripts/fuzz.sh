#!/usr/bin/env bash
# make fuzz (part of make soak): libFuzzer over the config parser and over recover's header
# analysis, FUZZ_SECONDS each (default 300), from seed corpora made here: real capdeck recordings
# in every container (complete, and cut short the way a crash leaves them) and a full config file.
# The fuzzing build lives in .build-fuzz (-sanitize=fuzzer), apart from the normal build.
# Prints one Markdown line per target; a failure leaves its crashing input and the log in
# .build-fuzz/findings (replay it with `.build/debug/capdeck-fuzz TARGET FILE`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-300}
FUZZ=$ROOT/.build-fuzz/release/capdeck-fuzz
CAPDECK=${CAPDECK:-$ROOT/.build/release/capdeck}
WORK=$(mktemp -d /var/tmp/capdeck-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FINDINGS=$ROOT/.build-fuzz/findings
mkdir -p "$FINDINGS" "$WORK/header" "$WORK/config"

# Seeds: recover's inputs.
for t in wav w64 caf flac; do
  "$CAPDECK" record -q -D builtin -r 8000 -c 1 -d 0.02 "$WORK/header/seed.$t"
  # The state a crash leaves: the header written at open (no frames), audio after it.
  "$CAPDECK" record -q -D builtin -r 8000 -c 2 -d 5 "$WORK/long.$t" & pid=$!
  sleep 1.2; kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  head -c 4096 "$WORK/long.$t" > "$WORK/header/crashed.$t"; rm -f "$WORK/long.$t"
done
# Seeds: every past find (Tests/FuzzCorpus), then config files.
cp Tests/FuzzCorpus/header/* "$WORK/header/"
cp Tests/FuzzCorpus/config/* "$WORK/config/"
cat > "$WORK/config/full.toml" <<'CONF'
[session]
uses-app-session = true
auto-configure = false
mix-with-others = true
bluetooth-hq = false
[app-session]
category = "record"
options = ["allowBluetoothHFP", "mixWithOthers"]
[routes]
exclusive = "plughw:CARD=USB,DEV=0"
shared = "dsnoop:CARD=USB,DEV=0"
bluetooth-hq = "bluealsa"
[input]
device = "hw:1,0"
format = "S24_LE"
rate = 96000
channels = 2
output-dir = "/srv/takes"
CONF
printf '[session]\nmix-with-others = "yes"\n' > "$WORK/config/wrong-type.toml"
printf 'input.rate = 48000\ninput = { channels = 1 }\n' > "$WORK/config/dotted.toml"

# The corpus grows across runs in .build-fuzz/corpus (seeds are added each time).
failed=0
for target in config header; do
  corpus=$ROOT/.build-fuzz/corpus/$target
  mkdir -p "$corpus"; cp "$WORK/$target"/* "$corpus"/
  log=$WORK/$target.log
  rc=0
  # (Swift's backtracer off, so libFuzzer's own handler writes the crashing input.)
  SWIFT_BACKTRACE=enable=no CAPDECK_FUZZ_TARGET=$target "$FUZZ" -max_total_time="$SECONDS_EACH" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FINDINGS/$target-" \
    "$corpus" > "$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  if [ "$rc" -eq 0 ]; then
    verdict="no failures"
  else
    cp "$log" "$FINDINGS/$target.log"
    verdict="FAILED (exit $rc): $(grep -m1 -E 'Fatal error|Assertion|ERROR' "$log" | cut -c1-200 || true); input and log in .build-fuzz/findings"
  fi
  echo "- libFuzzer, $target target: ${SECONDS_EACH} s, ${runs:-?} inputs, coverage ${cov:-?} edges from a corpus of $(ls "$corpus" | wc -l) files: $verdict"
  [ "$rc" -eq 0 ] || failed=1
done
exit $failed
