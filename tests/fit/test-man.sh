#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-man.sh - the man pages say what the programs do and get installed:
#   - groff reads every page without a warning;
#   - every option in `lifeboatfs --help` is in lifeboatfs(8);
#   - every command in `lifeboat --help` is in lifeboat(8);
#   - every key the config parsers accept is in lifeboat.conf(5);
#   - every long option in `lifeboatd --help` is in lifeboatd(8) (if built);
#   - `meson install` puts the four pages into share/man.
set -euo pipefail

SRC=${LIFEBOAT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${LIFEBOAT_BUILDDIR:-$SRC/build}
LIFEBOATFS=${LIFEBOATFS:-$BUILD/fs/lifeboatfs}
LIFEBOAT=${LIFEBOAT:-$BUILD/daemon/lifeboat}
MISSING=0

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

missing()
{
	echo "FAIL: $*" >&2
	MISSING=$((MISSING + 1))
}

command -v groff >/dev/null || skip "groff is not installed"
WORK=$(mktemp -d /tmp/lifeboat-fit-man.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# render PAGE: plain text without hyphenation, one line, single spaces, so
# that names and "key = value" stay whole wherever the lines broke.
render()
{
	groff -man -Tutf8 -rHY=0 -P-cbou "$1" 2>/dev/null | sed 's/\xe2\x80\x90/-/g' | tr '\n' ' ' | tr -s ' '
}

for page in "$SRC"/man/lifeboatfs.8 "$SRC"/man/lifeboatd.8 "$SRC"/man/lifeboat.8 "$SRC"/man/lifeboat.conf.5; do
	[[ -f "$page" ]] || { missing "no man page '$page'"; continue; }
	warnings=$(groff -man -ww -z "$page" 2>&1)
	[[ -z "$warnings" ]] || missing "groff warns on '$page': $warnings"
done

# lifeboatfs: the "-o name" entries of --help's own section.
render "$SRC/man/lifeboatfs.8" >"$WORK/lifeboatfs.txt"
"$LIFEBOATFS" --help | sed -n '/^lifeboatfs options:/,/^$/p' |
	sed -n 's/^ *-o \([a-z_]*\).*/\1/p' >"$WORK/fs-options"
[[ $(wc -l <"$WORK/fs-options") -ge 10 ]] || missing "cannot read the options of 'lifeboatfs --help'"
while read -r opt; do
	grep -qE "(^|[ ,])$opt(=|\b)" "$WORK/lifeboatfs.txt" || missing "lifeboatfs(8) does not document option '$opt'"
done <"$WORK/fs-options"

# lifeboat: the commands of --help (leading lowercase words of each entry).
render "$SRC/man/lifeboat.8" >"$WORK/lifeboat.txt"
"$LIFEBOAT" --help | sed -n '/^Commands:/,/^$/p' |
	awk '/^  [a-z]/ { sub(/^  /, ""); sub(/  .*/, ""); n = split($0, w, " "); c = "";
		for (i = 1; i <= n && w[i] ~ /^[a-z][a-z-]*$/; i++) c = c (c ? " " : "") w[i]; print c }' |
	sort -u >"$WORK/commands"
[[ $(wc -l <"$WORK/commands") -ge 3 ]] || missing "cannot read the commands of 'lifeboat --help'"
# each command heads an entry of its own in the page's source: ".B run ..."
while read -r cmd; do
	grep -qE "^\.BI? $cmd( |\\\\|\$)" "$SRC/man/lifeboat.8" || missing "lifeboat(8) has no entry for command '$cmd'"
done <"$WORK/commands"

# lifeboat.conf: every key the parsers accept (strcmp(key, "...") in them).
render "$SRC/man/lifeboat.conf.5" >"$WORK/conf.txt"
for parser in "$SRC"/daemon/config.c "$SRC"/daemon/standby-config.c; do
	[[ -f "$parser" ]] || continue
	grep -ohE 'strcmp\(key, "[a-z_]+"\)' "$parser" | sed 's/.*"\(.*\)".*/\1/'
done | sort -u >"$WORK/conf-keys"
while read -r key; do
	grep -qE "(^|[^a-z_])$key = " "$WORK/conf.txt" || missing "lifeboat.conf(5) does not document key '$key'"
done <"$WORK/conf-keys"

if [[ -n "${LIFEBOATD:-}" && -x "${LIFEBOATD:-}" ]]; then
	render "$SRC/man/lifeboatd.8" >"$WORK/lifeboatd.txt"
	{ "$LIFEBOATD" --help 2>&1 || true; } | grep -oE -- '--[a-z][a-z-]+' | sort -u >"$WORK/d-options"
	while read -r opt; do
		grep -qF -- "$opt" "$WORK/lifeboatd.txt" || missing "lifeboatd(8) does not document option '$opt'"
	done <"$WORK/d-options"
else
	echo "# lifeboatd not built: its options not compared" >&2
fi

# meson install puts them where man(1) finds them.
installed="pages not installed (no build dir '$BUILD')"
if [[ -f "$BUILD/meson-private/coredata.dat" ]]; then
	installed="pages installed"
	meson install -C "$BUILD" --no-rebuild --destdir "$WORK/root" >"$WORK/install.log" 2>&1 ||
		{ tail -n 20 "$WORK/install.log" >&2; missing "meson install failed"; }
	for p in man8/lifeboatfs.8 man8/lifeboatd.8 man8/lifeboat.8 man5/lifeboat.conf.5; do
		find "$WORK/root" -path "*/share/man/$p" | grep -q . || missing "meson install did not install '$p'"
	done
fi

((MISSING == 0)) || exit 1
echo "PASS: $(wc -l <"$WORK/fs-options") lifeboatfs options, $(wc -l <"$WORK/commands") lifeboat commands and $(wc -l <"$WORK/conf-keys") lifeboat.conf keys documented, $installed"
