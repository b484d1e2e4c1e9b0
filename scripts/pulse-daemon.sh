# Source this: starts an isolated PulseAudio daemon (null sink, low-latency feeder) in $1 and
# exports XDG_RUNTIME_DIR / PULSE_SERVER for it. Stop it with `pulse_stop`. (See
# shared/docs/linux-audio-test-recipes.md for why each step is there.)
pulse_start() {
  local D=$1
  mkdir -p "$D/run" "$D/home"; chmod 700 "$D/run"
  export XDG_RUNTIME_DIR=$D/run PULSE_SERVER=unix:$D/run/native
  HOME=$D/home setsid pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no --disable-shm=yes \
    --log-target=file:"$D/pa.log" \
    -L "module-native-protocol-unix auth-anonymous=1 socket=$D/run/native" \
    -L 'module-null-sink sink_name=nullsink rate=48000 channels=2' -L module-always-sink \
    </dev/null >"$D/pa.out" 2>&1 &
  PULSE_PID=$!
  for _ in $(seq 200); do pactl info >/dev/null 2>&1 && break; sleep 0.05; done
  setsid sh -c "exec pacat -p -d nullsink --latency-msec=20 --format=s16le --rate=48000 --channels=2 < /dev/zero" \
    >/dev/null 2>&1 &
  FEEDER_PID=$!
  for _ in $(seq 100); do
    lat=$(pactl list sinks 2>/dev/null | sed -n 's/.*Latency: \([0-9]*\) usec.*/\1/p' | sed -n 1p)  # (not head: a SIGPIPE under pipefail)
    [ -n "$lat" ] && [ "$lat" -lt 100000 ] && break
    sleep 0.05
  done
}
pulse_stop() {  # safe to call when pulse_start never ran
  [ -n "${FEEDER_PID:-}" ] && { kill -- -"$FEEDER_PID" 2>/dev/null || kill "$FEEDER_PID" 2>/dev/null || true; }
  [ -n "${PULSE_PID:-}" ] && { kill "$PULSE_PID" 2>/dev/null || true; wait "$PULSE_PID" 2>/dev/null || true; }
  return 0
}
