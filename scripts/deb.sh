#!/usr/bin/env bash
# make deb: capdeck_VERSION-REVISION_ARCH.deb from the staged tree (scripts/stage.sh), with dpkg-deb.
# Usage: scripts/deb.sh STAGE OUTDIR    (MAINTAINER, DEB_REVISION from the environment)
#
# The control file is generated: Version from the binary's --version and packaging/debian/changelog
# (which must have an entry for it), Architecture from dpkg, Depends from what the binary links
# (dpkg-shlibdeps, with the symbols files' minimum versions; each NEEDED library's package is
# checked against it with dpkg -S) and libpulse's and libdbus's packages (opened at run time),
# Installed-Size from the tree. Prints the .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:?usage: deb.sh STAGE OUTDIR}
OUT=${2:?usage: deb.sh STAGE OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(cd "$STAGE" && pwd)
MAINTAINER=${MAINTAINER:-CaptureDeck developers <capdeck@capturedeck.org>}
REVISION=${DEB_REVISION:-1}
[ -x "$STAGE/bin/capdeck" ] || { echo "deb.sh: $STAGE: not a staged tree (run scripts/stage.sh)" >&2; exit 1; }

upstream=$(env -i "$STAGE/bin/capdeck" --version)
version="$upstream-$REVISION"
arch=$(dpkg --print-architecture)
logged=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [ "$logged" != "$version" ]; then
  echo "deb.sh: packaging/debian/changelog's latest entry is $logged, the package is $version: add an entry (dch -v $version)" >&2
  exit 1
fi

work=$OUT/deb-build
pkg=$work/debian/capdeck
rm -rf "$work"
install -d "$pkg/usr" "$pkg/DEBIAN"
cp -a "$STAGE/." "$pkg/usr/"
install -m 0644 packaging/debian/copyright "$pkg/usr/share/doc/capdeck/copyright"
gzip -9n < packaging/debian/changelog > "$pkg/usr/share/doc/capdeck/changelog.Debian.gz"
chmod 0644 "$pkg/usr/share/doc/capdeck/changelog.Debian.gz"

# Depends: dpkg-shlibdeps wants a source tree's debian/control naming the package.
printf 'Source: capdeck\n\nPackage: capdeck\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e debian/capdeck/usr/bin/capdeck 2>"$work/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p') || {
  cat "$work/shlibdeps.log" >&2; echo "deb.sh: dpkg-shlibdeps failed" >&2; exit 1; }
[ -n "$depends" ] || { cat "$work/shlibdeps.log" >&2; echo "deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# The package that ships `path` (bookworm's merged /usr: dpkg may know it as /lib/... or /usr/lib/...).
package_of() {
  local real candidate
  real=$(readlink -f "$1")
  for candidate in "$1" "$real" "${1#/usr}" "/usr$1" "${real#/usr}" "/usr$real"; do
    dpkg -S "$candidate" 2>/dev/null | awk -F: 'NR == 1 { print $1 }' | grep . && return 0
  done
  return 0
}
# Every library the binary names must come from a Debian package that Depends lists: a library from
# anywhere else (the Swift toolchain's, a local build's) can't be had on the user's system.
for lib in $(readelf -d "$pkg/usr/bin/capdeck" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=$(ldd "$pkg/usr/bin/capdeck" | awk -v l="$lib" '$1 == l { print $3 }')
  case "$lib" in ld-linux*) path=$(readlink -f "/lib64/$lib" 2>/dev/null || true) ;; esac
  [ -n "$path" ] || { echo "deb.sh: $lib: not found by ldd" >&2; exit 1; }
  owner=$(package_of "$path")
  [ -n "$owner" ] || { echo "deb.sh: $lib ($path) belongs to no Debian package" >&2; exit 1; }
  sed 's/ *([^)]*)//g; s/, */\n/g' <<< "$depends" | grep -qxF "$owner" ||
    { echo "deb.sh: $lib comes from $owner, which Depends ($depends) lacks" >&2; exit 1; }
done

# Packed relative relocations (the Makefile's -z pack-relative-relocs) need glibc 2.36's loader; the
# binary's GLIBC_ABI_DT_RELR version need says so, but libc6's symbols file doesn't list it.
if readelf -d "$pkg/usr/bin/capdeck" | grep -q '(RELR)'; then
  libc_min=$(sed -n 's/.*libc6 (>= \([^)]*\)).*/\1/p' <<< "$depends")
  if [ -z "$libc_min" ] || dpkg --compare-versions "$libc_min" lt 2.36; then
    depends=$(sed 's/libc6 ([^)]*)/libc6 (>= 2.36)/' <<< "$depends")
  fi
fi
# libpulse and libdbus are opened at run time (dlopen: Sources/CPulse/include/CPulse.h,
# Sources/CDBus/include/CDBus.h), so shlibdeps can't see them: each one's package joins Depends at
# the version its symbols file gives the newest function capdeck resolves (the header's list).
opened_at_run_time() {  # SONAME HEADER PREFIX (the functions' names: X(PREFIX_...) or X(PREFIX_..., ...))
  local lib pkg symbols min=0 f v
  # (awk reads to the end: an early exit left ldconfig writing into a closed pipe, and
  # pipefail made its SIGPIPE the script's exit, 141, in one CI run.)
  lib=$(ldconfig -p | awk -v l="$1" '$1 == l && !found { print $NF; found = 1 }')
  [ -n "$lib" ] || { echo "deb.sh: $1 not found (install its package)" >&2; exit 1; }
  pkg=$(package_of "$lib")
  symbols=/var/lib/dpkg/info/$pkg:$arch.symbols
  [ -f "$symbols" ] || symbols=/var/lib/dpkg/info/$pkg.symbols
  for f in $(grep -o "X($3_[a-z0-9_]*[,)]" "$2" | sed 's/X(\(.*\).$/\1/'); do
    v=$(awk -v f="$f" '$1 ~ "^"f"@" { print $2; exit }' "$symbols")
    [ -n "$v" ] || { echo "deb.sh: $f is not in $symbols" >&2; exit 1; }
    dpkg --compare-versions "$v" gt "$min" && min=$v
  done
  depends="$depends, $pkg (>= $min)"
}
opened_at_run_time libpulse.so.0 Sources/CPulse/include/CPulse.h pa
opened_at_run_time libdbus-1.so.3 Sources/CDBus/include/CDBus.h dbus

(cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"
size=$(du -sk --apparent-size "$pkg/usr" | cut -f1)
{
  echo "Package: capdeck"
  echo "Version: $version"
  echo "Architecture: $arch"
  echo "Maintainer: $MAINTAINER"
  echo "Installed-Size: $size"
  echo "Depends: $depends"
  echo "Section: sound"
  echo "Priority: optional"
  echo "Description: $(cat packaging/debian/description)"
} > "$pkg/DEBIAN/control"

deb=$OUT/capdeck_${version}_${arch}.deb
rm -f "$OUT"/capdeck_*.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "deb.sh: Depends: $depends"
echo "$deb"
