#!/bin/sh
# check-man.sh MANDIR BINDIR - the man pages built in MANDIR (manN/PAGE.N)
# against the programs in BINDIR:
#   - each page renders with groff's warnings (man --warnings) and no
#     warning at all, and lexgrog reads its NAME line (whatis, apropos);
#   - every command that `povtrack --help` lists is a subsection of
#     povtrack.1's COMMANDS, and every subsection there is such a command;
#   - every long option of `povtrack --help`, of each `povtrack CMD --help`
#     and of `povtrackd --help` appears in povtrack.1 or povtrackd.8, and
#     every one of `povtrack-gw --help` in povtrack-gw.8.
# Prints each problem; exit 1 when there is one.
set -u
mandir=$1
bindir=$2
fail=0
problem() {
  echo "check-man: $*" >&2
  fail=1
}

pages=$(ls "$mandir"/man*/*.[0-9] 2>/dev/null)
[ -n "$pages" ] || { echo "check-man: no pages in $mandir" >&2; exit 1; }
for page in $pages; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" \
    2>&1 >/dev/null)
  [ -z "$warnings" ] || problem "$page: groff warns: $warnings"
  lexgrog "$page" >/dev/null 2>&1 || problem "$page: lexgrog cannot read its NAME"
done

cli=$mandir/man1/povtrack.1
daemon=$mandir/man8/povtrackd.8
for f in "$cli" "$daemon"; do
  [ -f "$f" ] || { echo "check-man: no $f" >&2; exit 1; }
done

# The commands: the indented lines after "Commands:" up to a blank line.
commands=$("$bindir/povtrack" --help |
  awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$commands" ] || problem "povtrack --help lists no command"
# The subsections of COMMANDS in the page (".SS name", up to the next .SH).
sections=$(awk '/^\.SH COMMANDS/ { on = 1; next } on && /^\.SH/ { exit }
  on && /^\.SS / { print $2 }' "$cli")
for c in $commands; do
  echo "$sections" | grep -qx -- "$c" || problem "povtrack.1 has no section for '$c'"
done
for s in $sections; do
  echo "$commands" | grep -qx -- "$s" ||
    problem "povtrack.1 has a section for '$s', which povtrack --help does not list"
done

# Options: every --word of the help texts, found in the page's source.
options_of() {
  grep -o -- '--[a-z][a-z-]*' | sort -u
}
check_options() { # PAGE WHAT OPTIONS...
  page=$1 what=$2
  shift 2
  for o in "$@"; do
    grep -q -- "$o" "$page" || problem "$(basename "$page") lacks $o ($what)"
  done
}
check_options "$cli" "povtrack --help" $("$bindir/povtrack" --help | options_of)
for c in $commands; do
  check_options "$cli" "povtrack $c --help" \
    $("$bindir/povtrack" "$c" --help | options_of)
done
check_options "$daemon" "povtrackd --help" $("$bindir/povtrackd" --help | options_of)
gw=$mandir/man8/povtrack-gw.8
if [ -x "$bindir/povtrack-gw" ]; then
  [ -f "$gw" ] || problem "no $gw"
  check_options "$gw" "povtrack-gw --help" $("$bindir/povtrack-gw" --help | options_of)
fi

[ "$fail" -eq 0 ] && echo "check-man: $(echo "$pages" | wc -l) pages, $(echo "$commands" | wc -l) commands: ok"
exit "$fail"
