# Sourced by bench.sh (needs ROOT, CAPDECK, median): real-time CPU against arecord on a paced
# source, and the console's cost above headless. Each measure_ function sets variables its
# report_ function prints.

# CPU of a process from /proc: the sum over its threads of schedstat's run time (ns, exact,
# unlike the 10 ms ticks of stat) and of stat's utime+stime ticks.
rt_proc_ns() { local s=0 t; for t in /proc/$1/task/*/schedstat; do s=$((s + $(cut -d' ' -f1 "$t" 2>/dev/null || echo 0))); done; echo $s; }
rt_proc_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
# Per thread: "tid name/policy ns voluntary-switches" (the switches are its wake-ups; policy 1
# is SCHED_FIFO: capdeck's capture thread).
rt_threads() {
  local t
  for t in /proc/$1/task/*; do
    echo "${t##*/} $(tr ' ' _ < "$t/comm")/$(awk '{print $41}' "$t/stat") $(cut -d' ' -f1 "$t/schedstat") $(awk '/^voluntary/{print $2}' "$t/status")"
  done
}

# rt_run NAME SECONDS COMMAND...: starts it, skips 2 s of start-up, measures SECONDS, interrupts
# it; appends "ns ticks" to $RTD/NAME.cpu and the per-thread deltas to $RTD/NAME.threads.
rt_run() {
  local name=$1 secs=$2; shift 2
  HOME=$RTD/home "$@" </dev/null >/dev/null 2>"$RTD/$name.err" &
  local p=$!
  sleep 2
  local a t0; a=$(rt_proc_ns $p); t0=$(rt_proc_ticks $p); rt_threads $p | sort > "$RTD/th0"
  sleep "$secs"
  local b t1; b=$(rt_proc_ns $p); t1=$(rt_proc_ticks $p); rt_threads $p | sort > "$RTD/th1"
  kill -INT $p; wait $p || true
  echo "$((b - a)) $((t1 - t0))" >> "$RTD/$name.cpu"
  join -a2 "$RTD/th0" "$RTD/th1" 2>/dev/null | awk -v s="$secs" '
    NF == 7 {printf "%s %.3f %.1f\n", $5, ($6 - $3) / 1e6 / s, ($7 - $4) / s}
    NF == 4 {printf "%s %.3f %.1f\n", $2, $3 / 1e6 / s, $4 / s}' > "$RTD/$name.threads"
  rm -f "$RTD"/out-*.wav
}

# rt_signal RAW SECONDS: the paced source's audio, 48 kHz stereo S16_LE, by RT_SIGNAL:
# - sine: a steady 440 Hz tone at -12 dBFS, every chunk as loud as the last: the true-peak
#   meter can never skip one (its worst case);
# - speech: alsa-utils' own recorded voice prompts ("Front center", …), one after another with
#   half a second of quiet room noise between them, the right channel in the other order: a
#   voice recording's pauses and level changes.
rt_signal() {
  local out=$1 secs=$2
  case ${RT_SIGNAL:-sine} in
    sine) sox -n -r 48000 -c 2 -b 16 -e signed -t raw "$out" synth "$secs" sine 440 vol 0.25 ;;
    speech)
      local d f i=0; d=$(mktemp -d)
      for f in Front_Center Front_Left Front_Right Rear_Center Rear_Left Rear_Right Side_Left Side_Right; do
        sox "/usr/share/sounds/alsa/$f.wav" -r 48000 -c 1 -b 16 "$d/$(printf %02d $i).wav" pad 0 0.5; i=$((i + 1))
      done
      sox "$d"/0*.wav "$d/left.wav"
      sox $(ls "$d"/0*.wav | sort -r) "$d/right.wav"
      sox -M "$d/left.wav" "$d/right.wav" "$d/voice.wav"
      local len; len=$(soxi -D "$d/voice.wav")
      sox -n -r 48000 -c 2 -b 16 "$d/room.wav" synth "$len" pinknoise vol 0.002
      sox -m "$d/voice.wav" "$d/room.wav" "$d/take.wav"
      sox "$d/take.wav" -t raw -e signed -b 16 "$out" repeat "$(awk -v s="$secs" -v l="$len" 'BEGIN{print int(s / l) + 1}')"
      rm -rf "$d" ;;
    *) echo "RT_SIGNAL: sine or speech" >&2; return 64 ;;
  esac
}

# Paced real time: capdeck record (default settings, and --no-loudness) and arecord -V stereo on
# the same paced PCM (ALSA's file plugin over the pulse plugin, a private PulseAudio daemon),
# 48 kHz stereo S16_LE, RT_RUNS interleaved runs of RT_SECONDS each, for each of RT_SIGNALS
# ("sine speech": see rt_signal).
rt_cpu_measure() {
  RT_RUNS=${RT_RUNS:-3}; RT_SECONDS=${RT_SECONDS:-20}; RT_SIGNALS=${RT_SIGNALS:-"sine speech"}
  . "$ROOT/scripts/pulse-daemon.sh"
  RTD=$(mktemp -d)
  pulse_start "$RTD"
  cat > "$RTD/home/.asoundrc" <<CONF
pcm.paced { type file slave.pcm "pulse" file "/dev/null" infile "$RTD/a.raw" format "raw" }
CONF
  local i sig
  for sig in $RT_SIGNALS; do
    RT_SIGNAL=$sig rt_signal "$RTD/a.raw" $((RT_RUNS * 3 * (RT_SECONDS + 4) + 30))
    for i in $(seq "$RT_RUNS"); do
      rt_run "$sig-capdeck" "$RT_SECONDS" "$CAPDECK" record -q -D paced -f S16_LE -r 48000 -c 2 "$RTD/out-c.wav"
      rt_run "$sig-capdeck_noloud" "$RT_SECONDS" "$CAPDECK" record -q --no-loudness -D paced -f S16_LE -r 48000 -c 2 "$RTD/out-n.wav"
      rt_run "$sig-arecord" "$RT_SECONDS" arecord -q -D paced -f S16_LE -r 48000 -c 2 -V stereo -t wav "$RTD/out-a.wav"
    done
  done
  pulse_stop
}

rt_cpu_report() {
  local n sig a c n2
  rt_ms() { awk '{print $1 / 1e6}' "$RTD/$1.cpu" | median | awk '{printf "%.1f", $1}'; }  # median CPU ms per run
  rt_pct() { awk -v s="$RT_SECONDS" '{print $1 / 1e7 / s}' "$RTD/$1.cpu" | median | awk '{printf "%.2f", $1}'; }
  echo "## Real-time CPU: capdeck record vs arecord -V stereo, paced (median of $RT_RUNS interleaved runs of $RT_SECONDS s)"
  echo
  echo "48 kHz stereo S16_LE from a paced PCM (ALSA's file plugin over the pulse plugin, a private PulseAudio daemon), default settings. CPU: the sum of every thread's run time (/proc/PID/task/*/schedstat). Signals: a steady 440 Hz tone (the true-peak meter's worst case: no block can be skipped) and speech (alsa-utils' voice prompts with room noise between them)."
  echo
  echo "| signal | command | CPU ms in $RT_SECONDS s | share of a core | ratio to arecord |"
  echo "|---|---|---|---|---|"
  for sig in $RT_SIGNALS; do
    a=$(rt_ms "$sig-arecord"); c=$(rt_ms "$sig-capdeck"); n2=$(rt_ms "$sig-capdeck_noloud")
    echo "| $sig | capdeck record (loudness on, the default) | $c | $(rt_pct "$sig-capdeck")% | $(awk -v x="$c" -v y="$a" 'BEGIN{printf "%.2f", x/y}') |"
    echo "| $sig | capdeck record --no-loudness | $n2 | $(rt_pct "$sig-capdeck_noloud")% | $(awk -v x="$n2" -v y="$a" 'BEGIN{printf "%.2f", x/y}') |"
    echo "| $sig | arecord -V stereo | $a | $(rt_pct "$sig-arecord")% | 1.00 |"
  done
  echo
  for sig in $RT_SIGNALS; do
    echo "Raw runs, $sig (schedstat ns, stat ticks): capdeck: $(tr '\n' ';' < "$RTD/$sig-capdeck.cpu") --no-loudness: $(tr '\n' ';' < "$RTD/$sig-capdeck_noloud.cpu") arecord: $(tr '\n' ';' < "$RTD/$sig-arecord.cpu")"
    echo
  done
  echo "Per thread, last run (name/policy, 1 = SCHED_FIFO: CPU ms per second, wake-ups per second); capdeck's default period is 100 ms here, arecord's 125 ms:"
  echo
  for sig in $RT_SIGNALS; do
    for n in capdeck capdeck_noloud arecord; do
      echo "- $sig, $n: $(awk '{printf "%s %s ms/s %s/s; ", $1, $2, $3}' "$RTD/$sig-$n.threads")"
    done
  done
  echo
  rm -rf "$RTD"
}

# The console's cost above headless: the built-in pink noise, recording to a file, 20 s each, in
# a 120x40 tmux pane at 30 fps, 2 and 32 channels; --no-loudness on both sides (the meters'
# cost is the same either way; it is the screen's cost that is measured).
# console_timed_take DIR TIMEFILE SECONDS ARGS...: the console at 120x40 in a private tmux server,
# recording for SECONDS (r ... r), then quit; its CPU seconds (user, system) go to TIMEFILE.
console_timed_take() {
  local dir=$1 timefile=$2 secs=$3; shift 3
  local T="tmux -L capdeck-bench-$$"
  $T new-session -d -s b -x 120 -y 40 "env LANG=C.UTF-8 TERM=xterm-256color XDG_CONFIG_HOME=$dir/cfg XDG_STATE_HOME=$dir/state /usr/bin/time -f '%U %S' -o $timefile $CAPDECK $* -o $dir"
  sleep 0.5
  $T send-keys -t b r   # record too, as the headless run does
  sleep "$(awk -v s="$secs" 'BEGIN{print s - 0.5}')"
  $T send-keys -t b r
  sleep 0.3
  $T send-keys -t b q
  local _
  for _ in $(seq 50); do [ -s "$timefile" ] && break; sleep 0.1; done
  $T kill-server 2>/dev/null || true
  rm -f "$dir"/*.wav
}

console_cost_measure() {
  CCD=$(mktemp -d)
  local ch
  for ch in 2 32; do
    /usr/bin/time -f "%U %S" -o "$CCD/headless$ch.time" "$CAPDECK" record -q --no-loudness -D builtin:pink -c $ch -d 20 "$CCD/h.wav" >/dev/null 2>&1
    rm -f "$CCD/h.wav"
    console_timed_take "$CCD" "$CCD/console$ch.time" 20 --no-loudness -D builtin:pink -c $ch
  done
}

console_cost_report() {
  echo "## Console cost above headless (120x40, 30 fps, 20 s of the built-in pink noise, recording, --no-loudness)"
  echo
  echo "| channels | headless CPU s | console CPU s | console above headless, share of a core | target |"
  echo "|---|---|---|---|---|"
  local ch h c
  for ch in 2 32; do
    h=$(awk '{print $1 + $2}' "$CCD/headless$ch.time"); c=$(awk '{print $1 + $2}' "$CCD/console$ch.time")
    echo "| $ch | $h | $c | $(awk -v c="$c" -v h="$h" 'BEGIN{printf "%.2f%%", (c - h) / 20 * 100}') | $([ $ch = 2 ] && echo '≤ 1%' || echo '≤ 2%') |"
  done
  echo
  rm -rf "$CCD"
}

# Loudness and true peak on vs off (issue 13's cost), headless and in the console: 2 channels at
# 48 kHz and 32 at 96 kHz of the built-in pink noise for 20 s, recording to WAV (whose file meters
# its own bext figures too), CPU seconds from /usr/bin/time. LOUD_SECONDS shortens it.
loudness_cost_measure() {
  LCD=$(mktemp -d)
  local secs=${LOUD_SECONDS:-20} spec ch rate mode flag
  for spec in 2:48000 32:96000; do
    ch=${spec%%:*}; rate=${spec##*:}
    for mode in on off; do
      flag=""; [ $mode = off ] && flag="--no-loudness"
      /usr/bin/time -f "%U %S" -o "$LCD/headless-$ch-$mode.time" "$CAPDECK" record -q $flag -D builtin:pink -c $ch -r $rate \
        -d "$secs" "$LCD/h.wav" >/dev/null 2>&1
      rm -f "$LCD/h.wav"
      console_timed_take "$LCD" "$LCD/console-$ch-$mode.time" "$secs" $flag -D builtin:pink -c $ch -r $rate
    done
  done
  LOUD_SECS=$secs
}

loudness_cost_report() {
  echo "## Loudness and true peak on vs off, headless and in the console (${LOUD_SECS} s, built-in pink noise, recording to WAV)"
  echo
  echo "| channels, rate | where | CPU s, loudness on | CPU s, off | loudness's share of a core |"
  echo "|---|---|---|---|---|"
  local spec ch rate where on off
  for spec in 2:48000 32:96000; do
    ch=${spec%%:*}; rate=${spec##*:}
    for where in headless console; do
      on=$(awk '{print $1 + $2}' "$LCD/$where-$ch-on.time" 2>/dev/null || echo "?")
      off=$(awk '{print $1 + $2}' "$LCD/$where-$ch-off.time" 2>/dev/null || echo "?")
      echo "| $ch ch, $((rate / 1000)) kHz | $where | $on | $off | $(awk -v a="$on" -v b="$off" -v s="$LOUD_SECS" 'BEGIN{ if (a == "?" || b == "?") print "?"; else printf "%.2f%%", (a - b) / s * 100 }') |"
    done
  done
  echo
  rm -rf "$LCD"
}
