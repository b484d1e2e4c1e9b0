#!/usr/bin/env bash
# make install / make uninstall.
#
#   scripts/install.sh install STAGE    copies the staged tree (scripts/stage.sh) into DESTDIR/PREFIX
#   scripts/install.sh uninstall        removes what that install put there, and nothing else
#
# Install writes a manifest, PREFIX/share/capdeck/installed-files: each file it installed (relative
# to PREFIX) with its SHA-256, and each directory it created. Uninstall removes exactly the files
# listed, except one changed since (a user's edit is kept and named), then the manifest, then the
# listed directories that are empty and capdeck's own (share/doc/capdeck, share/capdeck): a shared
# directory such as share/man/man1 or share/zsh/vendor-completions stays even if install made it.
set -euo pipefail
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
ROOT="$DESTDIR$PREFIX"
MANIFEST_REL=share/capdeck/installed-files
MANIFEST="$ROOT/$MANIFEST_REL"
# The directories only capdeck puts anything in: uninstall may remove these when they are empty.
OWN_DIRS=(share/doc/capdeck/Docs share/doc/capdeck share/capdeck)

case "$PREFIX" in /*) ;; *) echo "install.sh: PREFIX must be an absolute path (got '$PREFIX')" >&2; exit 64 ;; esac

install_tree() {
  local stage=${1:?usage: install.sh install STAGE}
  [ -x "$stage/bin/capdeck" ] || { echo "install.sh: $stage: not a staged tree (run scripts/stage.sh)" >&2; exit 1; }
  if [ -f "$MANIFEST" ]; then
    echo "install.sh: capdeck is already installed in $ROOT; replacing it"
    uninstall_tree
  fi
  local tmp
  tmp=$(mktemp)
  # Directories first (only those missing are recorded: the rest were there before us).
  while IFS= read -r dir; do
    local rel=${dir#"$stage"}
    rel=${rel#/}
    [ -n "$rel" ] || continue
    if [ ! -d "$ROOT/$rel" ]; then
      install -d -m 0755 "$ROOT/$rel"
      echo "dir $rel" >> "$tmp"
    fi
  done < <(find "$stage" -type d | sort)
  [ -d "$ROOT/share/capdeck" ] || { install -d -m 0755 "$ROOT/share/capdeck"; echo "dir share/capdeck" >> "$tmp"; }
  while IFS= read -r file; do
    local rel=${file#"$stage"/}
    local mode=0644
    [ -x "$file" ] && mode=0755
    install -m "$mode" "$file" "$ROOT/$rel"
    echo "file $(sha256sum < "$file" | cut -d' ' -f1) $rel" >> "$tmp"
    echo "  $ROOT/$rel"
  done < <(find "$stage" -type f | sort)
  install -m 0644 "$tmp" "$MANIFEST"
  rm -f "$tmp"
  echo "install.sh: installed capdeck in $ROOT (manifest: $MANIFEST)"
}

uninstall_tree() {
  if [ ! -f "$MANIFEST" ]; then
    echo "install.sh: nothing to uninstall: no $MANIFEST (capdeck was not installed with PREFIX=$PREFIX${DESTDIR:+ DESTDIR=$DESTDIR})"
    return 0
  fi
  local kept=0 kind sum rel
  while read -r kind sum rel; do
    [ "$kind" = file ] || continue
    case "$rel" in /*|*..*) echo "install.sh: $MANIFEST: refusing the path '$rel'" >&2; exit 1 ;; esac
    local path="$ROOT/$rel"
    if [ ! -e "$path" ] && [ ! -L "$path" ]; then continue; fi
    if [ -L "$path" ] || [ "$(sha256sum < "$path" | cut -d' ' -f1)" != "$sum" ]; then
      echo "install.sh: kept $path: changed since it was installed"
      kept=$((kept + 1))
      continue
    fi
    rm -f "$path"
    echo "  removed $path"
  done < "$MANIFEST"
  local dirs
  dirs=$(awk '$1 == "dir" { print $2 }' "$MANIFEST" | sort -r)
  rm -f "$MANIFEST"
  for own in "${OWN_DIRS[@]}"; do
    if grep -qxF "$own" <<< "$dirs" && [ -d "$ROOT/$own" ]; then
      rmdir "$ROOT/$own" 2>/dev/null && echo "  removed $ROOT/$own/" || echo "install.sh: kept $ROOT/$own/: not empty"
    fi
  done
  if [ "$kept" -gt 0 ]; then
    echo "install.sh: uninstalled capdeck from $ROOT; $kept changed file(s) kept"
  else
    echo "install.sh: uninstalled capdeck from $ROOT"
  fi
}

case "${1:-}" in
  install) install_tree "${2:-}" ;;
  uninstall) uninstall_tree ;;
  *) echo "usage: install.sh install STAGE | uninstall  (PREFIX, DESTDIR from the environment)" >&2; exit 64 ;;
esac
