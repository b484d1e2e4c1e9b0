#!/usr/bin/env bash
# The installed tree, laid out under STAGE as it goes under PREFIX: what `make install` copies and
# `make deb` packs. Usage: scripts/stage.sh BINARY STAGE
#
#   bin/capdeck                                       stripped, no RUNPATH (static Swift runtime)
#   share/man/man1/capdeck.1.gz, capdeck-COMMAND.1.gz  from the parser (scripts/manpages.py)
#   share/bash-completion/completions/capdeck         the parser's, with packaging/completion/wordbreaks.bash
#   share/zsh/vendor-completions/_capdeck
#   share/fish/vendor_completions.d/capdeck.fish
#   share/doc/capdeck/README.md, share/doc/capdeck/Docs/*.md   (the README's links still work)
#
# Every file is made afresh: nothing left from an earlier run or another binary's.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:?usage: stage.sh BINARY STAGE}
STAGE=${2:?usage: stage.sh BINARY STAGE}
[ -x "$BINARY" ] || { echo "stage.sh: $BINARY: no executable there (build it first)" >&2; exit 1; }

rm -rf "$STAGE"
install -d "$STAGE/bin" "$STAGE/share/man/man1" "$STAGE/share/bash-completion/completions" \
  "$STAGE/share/zsh/vendor-completions" "$STAGE/share/fish/vendor_completions.d" "$STAGE/share/doc/capdeck/Docs"

install -m 0755 "$BINARY" "$STAGE/bin/capdeck"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/bin/capdeck"
if readelf -d "$STAGE/bin/capdeck" | grep -qE '\((RPATH|RUNPATH)\)'; then
  echo "stage.sh: $BINARY has an RPATH/RUNPATH (build it with --disable-local-rpath)" >&2
  exit 1
fi

# The pages and scripts come from the staged binary itself, so they match what is installed.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
python3 scripts/manpages.py --binary "$STAGE/bin/capdeck" --out "$gen/man"
for page in "$gen"/man/*.1; do
  gzip -9n < "$page" > "$STAGE/share/man/man1/$(basename "$page").gz"
done
bash scripts/completions.sh "$STAGE/bin/capdeck" "$gen/completions"
install -m 0644 "$gen/completions/capdeck" "$STAGE/share/bash-completion/completions/capdeck"
install -m 0644 "$gen/completions/_capdeck" "$STAGE/share/zsh/vendor-completions/_capdeck"
install -m 0644 "$gen/completions/capdeck.fish" "$STAGE/share/fish/vendor_completions.d/capdeck.fish"

install -m 0644 README.md "$STAGE/share/doc/capdeck/README.md"
install -m 0644 Docs/*.md "$STAGE/share/doc/capdeck/Docs/"
find "$STAGE" -type f ! -path "$STAGE/bin/*" -exec chmod 0644 {} +
find "$STAGE" -type d -exec chmod 0755 {} +
