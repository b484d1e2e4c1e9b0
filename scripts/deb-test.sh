#!/usr/bin/env bash
# make deb-test: the .deb on a clean Debian system. Usage: scripts/deb-test.sh capdeck_*.deb
#
# 1. lintian: every tag it reports must be one Docs/packaging.md explains (its "lintian" table).
# 2. A fresh Debian root (debootstrap --variant=minbase, the running release: no Swift toolchain,
#    no audio libraries, no build tools), kept in DEB_TEST_ROOT (default /var/tmp/capdeck-deb-root)
#    as a pristine copy so a later run starts from the same clean state without downloading again.
# 3. In a copy of it: `apt-get install ./capdeck_*.deb` (apt resolves Depends from the mirror),
#    then as an unprivileged user with a bare environment: `capdeck --version`, `capdeck record -D
#    builtin -d 1 x.wav`, the file read back with Python's wave module (a 440 Hz sine, 48000 frames,
#    stereo S16, at -12 dBFS), `capdeck recover` on it, `man capdeck-record` renders, the bash
#    completion completes -D, and `apt-get remove` leaves none of the package's files.
# MIRROR (default http://deb.debian.org/debian) and SUITE (default: this system's) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=$(readlink -f "${1:?usage: deb-test.sh capdeck_VERSION_ARCH.deb}")
[ -f "$DEB" ] || { echo "deb-test.sh: $DEB: no such package (make deb)" >&2; exit 1; }
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}
PRISTINE=${DEB_TEST_ROOT:-/var/tmp/capdeck-deb-root}
ROOT=$PRISTINE.run
fail() { echo "deb-test.sh: FAIL: $*" >&2; exit 1; }
step() { echo "deb-test.sh: $*"; }

# --- 1. lintian -----------------------------------------------------------------------------------
step "lintian $(basename "$DEB")"
lintian --no-tag-display-limit --display-info "$DEB" > /tmp/capdeck-lintian.$$ 2>&1 || true
cat /tmp/capdeck-lintian.$$
explained=$(sed -n '/^<!-- lintian-tags -->/,/^<!-- \/lintian-tags -->/p' Docs/packaging.md | sed -n 's/^| `\([a-z0-9-]*\)` |.*/\1/p')
unexplained=0
while read -r level _ tag _; do
  case "$level" in E:|W:|I:) ;; *) continue ;; esac
  grep -qxF "$tag" <<< "$explained" || { echo "deb-test.sh: lintian $level $tag is not explained in Docs/packaging.md" >&2; unexplained=$((unexplained + 1)); }
done < /tmp/capdeck-lintian.$$
rm -f /tmp/capdeck-lintian.$$
[ "$unexplained" -eq 0 ] || fail "$unexplained lintian tag(s) unexplained"

# --- 2. a clean root ------------------------------------------------------------------------------
cleanup() {
  for m in proc dev/pts dev sys; do mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"; done
  rm -rf "$ROOT"
}
trap cleanup EXIT
if [ ! -x "$PRISTINE/usr/bin/apt-get" ]; then
  step "debootstrap --variant=minbase $SUITE $PRISTINE $MIRROR (a few minutes, once)"
  rm -rf "$PRISTINE"
  debootstrap --variant=minbase "$SUITE" "$PRISTINE" "$MIRROR" > /tmp/capdeck-debootstrap.log 2>&1 ||
    { tail -20 /tmp/capdeck-debootstrap.log >&2; fail "debootstrap failed (log: /tmp/capdeck-debootstrap.log)"; }
fi
cleanup
cp -a "$PRISTINE" "$ROOT"
for lib in libasound.so.2 libsndfile.so.1 libswiftCore.so; do
  [ -z "$(find "$ROOT/usr/lib" "$ROOT/opt" -name "$lib*" 2>/dev/null | head -1)" ] || fail "the clean root already has $lib"
done
[ ! -e "$ROOT/opt/swift" ] || fail "the clean root has a Swift toolchain"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
mount -t sysfs sys "$ROOT/sys"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# --- 3. install and record ------------------------------------------------------------------------
cp "$DEB" "$ROOT/tmp/"
deb=/tmp/$(basename "$DEB")
step "apt-get install .$deb in the clean root"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" > /tmp/capdeck-apt.log 2>&1 ||
  { tail -20 /tmp/capdeck-apt.log >&2; fail "apt-get install failed"; }
in_root dpkg -s capdeck | grep -q '^Status: install ok installed' || fail "capdeck is not installed"
in_root apt-get install -y -qq python3-minimal man-db groff-base > /dev/null 2>&1 || fail "could not install the readers"

in_root useradd -m -s /bin/bash listener
as_user() { chroot --userspec=listener:listener "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/home/listener "$@"; }
[ "$(as_user capdeck --version)" = "$(dpkg-deb -f "$DEB" Version | sed 's/-[^-]*$//')" ] || fail "capdeck --version"
if in_root ldd /usr/bin/capdeck | grep -q 'not found'; then in_root ldd /usr/bin/capdeck; fail "unresolved libraries"; fi
step "ldd in the root: $(in_root ldd /usr/bin/capdeck | awk '{print $1}' | tr '\n' ' ')"

step "capdeck record -D builtin -d 1 x.wav (as a user, env -i)"
as_user sh -c 'cd && capdeck record -D builtin -d 1 x.wav' || fail "capdeck record exited $?"
as_user python3 - <<'EOF' || fail "the recording is not what the built-in source makes"
import array, math, wave
w = wave.open("/home/listener/x.wav")
assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 48000, 48000), w.getparams()
s = array.array("h", w.readframes(48000))
left, right = s[0::2], s[1::2]
assert left == right, "channels differ"
peak = max(abs(v) for v in left) / 32768
assert abs(20 * math.log10(peak) + 12) < 0.2, "peak %.2f dBFS, not -12" % (20 * math.log10(peak))
crossings = sum(1 for a, b in zip(left, left[1:]) if a < 0 <= b)
assert 439 <= crossings <= 441, "%d upward zero crossings in 1 s, not 440" % crossings
print("deb-test.sh: x.wav: 48000 frames, 2 ch, S16, 440 Hz at %.2f dBFS" % (20 * math.log10(peak)))
EOF
as_user sh -c 'cd && capdeck recover x.wav' | grep -q 'complete: 48000 frames' || fail "capdeck recover x.wav"

step "man capdeck-record, capdeck(1)'s EXIT STATUS, the bash completion"
in_root sh -c 'MANWIDTH=80 man capdeck-record 2>&1' | grep -q -- '--duration' || fail "man capdeck-record"
in_root sh -c 'MANWIDTH=80 man capdeck 2>&1' | grep -q 'EXIT STATUS' || fail "man capdeck"
got=$(as_user bash -c 'source /usr/share/bash-completion/completions/capdeck
  COMP_LINE="capdeck record -D builtin:p"; COMP_POINT=${#COMP_LINE}
  COMP_WORDS=(capdeck record -D builtin : p); COMP_CWORD=5
  _capdeck_joined capdeck p :; printf "%s\n" "${COMPREPLY[@]}"')
[ "$got" = "pink" ] || fail "bash completion of -D builtin:p gave '$got', not 'pink'"

step "apt-get remove capdeck"
files=$(in_root dpkg -L capdeck | while read -r f; do [ -f "$ROOT$f" ] && echo "$f"; done)
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq capdeck > /dev/null
for f in $files; do
  [ ! -e "$ROOT$f" ] || fail "$f is still there after apt-get remove"
done
step "PASS: $(basename "$DEB") installs with apt on a clean $SUITE, records and reads back, and removes cleanly"
