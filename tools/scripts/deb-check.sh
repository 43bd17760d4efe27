#!/usr/bin/env bash
# deb-check.sh - the Debian packages as an operator gets them, on this
# machine, for real (README, Operators):
#   1. build them from a copy of the tree (dpkg-buildpackage -us -uc -b,
#      nocheck: test.sh runs the tests) and run lintian (errors and
#      warnings fail; the overrides are in debian/ with their reasons);
#   2. apt-get install ./*.deb: the user povtrack, /var/lib/povtrack 0750,
#      /etc/povtrack with the registry 0640 root:povtrack, the man pages,
#      no executable stack in any installed ELF file; the SDK and client
#      examples build against the installed -dev;
#   3. systemd-analyze verify on the units, and systemd-analyze security
#      --offline on povtrackd.service within SECURITY_BOUND;
#   4. start povtrackd as povtrack with the unit's exact ExecStart line,
#      working directory, umask and the environment systemd gives it
#      (there is no systemd here), without privileges and with
#      MemoryDenyWriteExecute emulated; publish and query with the CLI, run the
#      backup unit's ExecStart lines (backup --keep, verify of the copy),
#      stop it;
#   5. build a second set with a bumped version, upgrade to it (an edited
#      conffile kept), start again: the same answers, verify OK;
#   6. apt-get remove: configuration and data kept; purge: configuration
#      gone, /var/lib/povtrack, /var/backups/povtrack and the user kept, as
#      the README says; then the script removes those itself.
# Needs root and apt (CI runs as root); otherwise it says "skipped: needs
# root" and exits 0.  It refuses (exit 1) to run where povtrack is
# installed or /var/lib/povtrack exists unless an earlier deb-check left
# it (the marker /var/lib/povtrack-deb-check): it never touches an
# operator's data.  Exit 0 when every check passed; a failed check names
# itself and exits 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# The exposure score systemd-analyze gives povtrackd.service on Debian 12
# (systemd 252): 1.1.  A change that weakens the sandbox fails here.
SECURITY_BOUND=1.1
MARKER=/var/lib/povtrack-deb-check
UNITDIR=/lib/systemd/system
t0=$(date +%s)

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null ||
  ! command -v dpkg-buildpackage >/dev/null; then
  echo "deb-check: skipped: needs root (and apt, dpkg-buildpackage)"
  exit 0
fi

fail() {
  echo "deb-check: FAIL: $*" >&2
  [ -n "${daemon_log:-}" ] && [ -s "$daemon_log" ] &&
    { echo "--- povtrackd's log:" >&2; tail -n 20 "$daemon_log" >&2; }
  exit 1
}
step() { echo "== deb-check: $*"; }

# ---- what an earlier run left, and nothing else
if dpkg-query -W -f='${Status}' povtrack 2>/dev/null | grep -q 'installed\|config-files' ||
  [ -e /var/lib/povtrack ]; then
  [ -e "$MARKER" ] || fail "povtrack is installed here, or /var/lib/povtrack exists, and not from deb-check: it will not touch an operator's packages or data"
  echo "deb-check: removing what an earlier run left"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -qq povtrack povtrack-dev \
    libpovtrack-client1 >/dev/null 2>&1 || true
  rm -rf /var/lib/povtrack /var/backups/povtrack
  userdel povtrack 2>/dev/null || true
  groupdel povtrack 2>/dev/null || true
fi

work=$(mktemp -d /tmp/povtrack-deb-check-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. build and lintian
# A copy of the tree without build directories or git: what a source
# package would hold.  Version V: debian/changelog's first entry, or V+1
# with a new entry on top.
copy_tree() { # DEST [NEWVERSION]
  mkdir -p "$1"
  tar -C "$root" --exclude='./build*' --exclude=./.git --exclude='./obj-*' \
    -cf - . | tar -C "$1" -xf -
  if [ $# -gt 1 ]; then
    {
      printf 'povtrack (%s) unstable; urgency=medium\n\n' "$2"
      printf '  * deb-check: the upgrade test.\n\n'
      printf ' -- povtrack developers <povtrack@example.org>  %s\n\n' \
        "$(date -R)"
      cat "$1/debian/changelog"
    } >"$1/debian/changelog.new"
    mv "$1/debian/changelog.new" "$1/debian/changelog"
  fi
}
build() { # DIR
  (cd "$1/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -us -uc -b >"$1/build.log" 2>&1) ||
    { tail -n 40 "$1/build.log" >&2; fail "dpkg-buildpackage in $1/src"; }
}
debs() { # DIR: the binary packages, not the debug symbols
  ls "$1"/povtrack_*.deb "$1"/libpovtrack-client1_*.deb \
    "$1"/povtrack-dev_*.deb
}

step "build (dpkg-buildpackage -us -uc -b, nocheck)"
v1=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
v2="$v1+debcheck1"
copy_tree "$work/v1/src"
build "$work/v1"
step "lintian (errors and warnings fail)"
lintian_rc=0
lintian --fail-on error,warning "$work"/v1/*.changes >"$work/lintian.out" 2>&1 ||
  lintian_rc=$?
# It says it runs as root; it only reads the packages.
grep -v '^running with root' "$work/lintian.out" || true
[ "$lintian_rc" -eq 0 ] || fail "lintian (exit $lintian_rc)"

# ---- 2. install
step "apt-get install ./*.deb ($v1)"
touch "$MARKER"
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $(debs "$work/v1") \
  >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "install"; }

getent passwd povtrack | grep -q ':/var/lib/povtrack:/usr/sbin/nologin$' ||
  fail "no system user povtrack (home /var/lib/povtrack, nologin)"
[ "$(id -u povtrack)" -lt 1000 ] || fail "povtrack is not a system user"
mode() { stat -c '%a %U:%G' "$1"; }
[ "$(mode /var/lib/povtrack)" = "750 povtrack:povtrack" ] ||
  fail "/var/lib/povtrack is $(mode /var/lib/povtrack), not 750 povtrack:povtrack"
[ "$(mode /var/backups/povtrack)" = "700 povtrack:povtrack" ] ||
  fail "/var/backups/povtrack is $(mode /var/backups/povtrack)"
[ "$(mode /etc/povtrack/publishers.ini)" = "640 root:povtrack" ] ||
  fail "publishers.ini is $(mode /etc/povtrack/publishers.ini), not 640 root:povtrack"
[ "$(mode /etc/povtrack/povtrackd.conf)" = "644 root:root" ] ||
  fail "povtrackd.conf is $(mode /etc/povtrack/povtrackd.conf)"
for page in man1/povtrack.1 man8/povtrackd.8 man5/povtrackd.conf.5 \
  man5/povtrack-registry.5 man7/povtrack-plugin.7 man7/povtrack-protocol.7; do
  [ -f "/usr/share/man/$page.gz" ] || fail "no /usr/share/man/$page.gz"
done
man -w povtrackd >/dev/null 2>&1 || fail "man finds no povtrackd page"
# MemoryDenyWriteExecute=yes: nothing installed may ask for an executable
# stack (README, Operators, Hardening).
for f in $(dpkg -L povtrack libpovtrack-client1); do
  [ -f "$f" ] && [ ! -L "$f" ] && head -c 4 "$f" | grep -q 'ELF' || continue
  if readelf -lW "$f" | grep GNU_STACK | grep -q RWE; then
    fail "$f has an executable stack: it cannot run under MemoryDenyWriteExecute=yes"
  fi
done

step "the SDK and the client library from povtrack-dev"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
plugindir=$(realpath -m "$(pkg-config --variable=plugindir povtrack-plugin)")
[ "$plugindir" = "/usr/lib/$multiarch/povtrack" ] ||
  fail "povtrack-plugin.pc's plugindir is $plugindir"
for ex in plugin-relocation-count client-publish; do
  cp -r "$root/examples/$ex" "$work/$ex"
  make -s -C "$work/$ex" >"$work/$ex.log" 2>&1 ||
    { cat "$work/$ex.log" >&2; fail "examples/$ex against the installed povtrack-dev"; }
done

# ---- 3. the units
step "systemd-analyze verify, security --offline (bound $SECURITY_BOUND)"
systemd-analyze verify "$UNITDIR/povtrackd.service" \
  "$UNITDIR/povtrack-backup.service" "$UNITDIR/povtrack-backup.timer" ||
  fail "systemd-analyze verify"
score=$(systemd-analyze security --offline=true --no-pager \
  "$UNITDIR/povtrackd.service" | sed -n 's/.*Overall exposure level for povtrackd.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no exposure level from systemd-analyze security"
awk -v s="$score" -v b="$SECURITY_BOUND" 'BEGIN { exit !(s <= b) }' ||
  fail "povtrackd.service's exposure level is $score, above $SECURITY_BOUND"
echo "deb-check: povtrackd.service exposure level $score"

# ---- 4. the service's command, as the service runs it
# One setting of the unit: the value of KEY= in UNIT (the last one).
unit_value() { # UNIT KEY
  sed -n "s/^$2=//p" "$UNITDIR/$1" | tail -n 1
}
[ "$(unit_value povtrackd.service User)" = povtrack ] || fail "User= is not povtrack"
exec_start=$(unit_value povtrackd.service ExecStart)
workdir=$(unit_value povtrackd.service WorkingDirectory)
umask_value=$(unit_value povtrackd.service UMask)
case $exec_start in
/*) ;;
*) fail "ExecStart has a prefix this script does not emulate: $exec_start" ;;
esac
# What systemd gives a service of User=povtrack, less what needs systemd
# itself (NOTIFY_SOCKET, JOURNAL_STREAM: test_service covers them), with
# three settings of the sandbox applied by hand: NoNewPrivileges=yes and
# CapabilityBoundingSet= (setpriv), and MemoryDenyWriteExecute=yes as the
# kernel's PR_SET_MDWE (Linux 6.3 and later), which refuses to load a
# plugin with an executable stack as the unit does.  It execs: call it in
# a subshell, ( ... ) or with &, whose pid is then the command's.
MDWE_EXEC='
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE
    print("deb-check: no PR_SET_MDWE in this kernel: MemoryDenyWriteExecute "
          "not emulated", file=sys.stderr)
os.execvp(sys.argv[1], sys.argv[1:])'
as_povtrack() {
  cd "$workdir" && umask "$umask_value" &&
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/var/lib/povtrack USER=povtrack LOGNAME=povtrack \
      SHELL=/usr/sbin/nologin LANG=C.UTF-8 \
      /usr/bin/python3 -c "$MDWE_EXEC" \
      setpriv --no-new-privs --bounding-set -all --inh-caps -all \
      --reuid povtrack --regid povtrack --init-groups -- "$@"
}
daemon_log=$work/povtrackd.log
start_daemon() {
  # shellcheck disable=SC2086
  as_povtrack $exec_start 2>>"$daemon_log" &
  pid=$!
  povtrack ping --wait --timeout 30000 >/dev/null ||
    fail "povtrackd (ExecStart=$exec_start) does not answer"
}
stop_daemon() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || fail "povtrackd exited with $rc after SIGTERM"
}

step "povtrackd as povtrack: $exec_start"
start_daemon
grep -q 'CURVE is off' "$daemon_log" || fail "no warning that CURVE is off"
# Every built-in plugin loaded, under MemoryDenyWriteExecute too.
running=$(povtrack stats | grep -c ' running$' || true)
[ "$running" -eq 11 ] || fail "$running of the 11 built-in plugins run: $(povtrack stats)"
events=$work/events.jsonl
{
  echo '{"v":1,"id":"dc-unit-60","type":"unit.defined","at":1704067200,"unit":"60","data":{"name":"Bình Thuận","parent":null,"level":"province"}}'
  echo '{"v":1,"id":"dc-hh-60","type":"unit.households","at":1704067200,"unit":"60","data":{"year":2024,"households":1000}}'
  for i in 1 2 3 4 5; do
    echo "{\"v\":1,\"id\":\"dc-don-$i\",\"type\":\"donation.received\",\"at\":$((1717200000 + i)),\"unit\":\"60\",\"data\":{\"amount\":${i}000000,\"donor\":\"Donor $i\",\"donor_kind\":\"person\",\"level\":\"province\"}}"
  done
} >"$events"
povtrack send "$events" >"$work/send.out" 2>&1 || { cat "$work/send.out" >&2; fail "povtrack send"; }
grep -q 'sent 7 events: 7 ok' "$work/send.out" || fail "send: $(cat "$work/send.out")"
# The answers the upgrade must keep.
answers() {
  povtrack query fund unit=60 --min-seq 7 --json
  povtrack log --from 1 --limit 100 --json
}
answers >"$work/answers.before" || fail "query before the upgrade"
grep -q '15000000' "$work/answers.before" || fail "the fund does not hold the 15,000,000 VND sent"

step "the backup unit's commands (backup --keep, verify of the copy)"
[ "$(unit_value povtrack-backup.service User)" = povtrack ] ||
  fail "povtrack-backup.service's User= is not povtrack"
# /etc/default/povtrack-backup over the unit's Environment= defaults (the
# first NAME=value found wins), and the ${NAME}s of its ExecStart lines
# expanded as systemd does.
backup_env=$(grep -E '^[A-Z_]+=' /etc/default/povtrack-backup)
backup_env+=$'\n'$(sed -n 's/^Environment=//p' "$UNITDIR/povtrack-backup.service")
while IFS= read -r line; do
  for kv in $backup_env; do
    line=${line//"\${${kv%%=*}}"/${kv#*=}}
  done
  case $line in *'${'*) fail "unexpanded variable in: $line" ;; esac
  # shellcheck disable=SC2086
  (as_povtrack $line) >"$work/backup.out" 2>&1 ||
    { cat "$work/backup.out" >&2; fail "povtrack-backup.service: $line"; }
done < <(sed -n 's/^ExecStart=//p' "$UNITDIR/povtrack-backup.service")
grep -q 'verify OK' "$work/backup.out" || fail "no verify OK on the backup"
[ -L /var/backups/povtrack/latest ] || fail "no /var/backups/povtrack/latest"
stop_daemon

# ---- 5. upgrade
step "upgrade to $v2 (built with the bumped version)"
copy_tree "$work/v2/src" "$v2"
build "$work/v2"
# An operator's edit of a conffile survives the upgrade, without a question.
sed -i 's/^;log_level = info$/log_level = info/' /etc/povtrack/povtrackd.conf
grep -q '^log_level = info$' /etc/povtrack/povtrackd.conf || fail "cannot edit povtrackd.conf"
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $(debs "$work/v2") \
  >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log" >&2; fail "upgrade"; }
[ "$(dpkg-query -W -f='${Version}' povtrack)" = "$v2" ] || fail "povtrack is not $v2 after the upgrade"
grep -q '^log_level = info$' /etc/povtrack/povtrackd.conf || fail "the upgrade lost the edit of povtrackd.conf"
start_daemon
answers >"$work/answers.after" || fail "query after the upgrade"
cmp -s "$work/answers.before" "$work/answers.after" ||
  { diff "$work/answers.before" "$work/answers.after" >&2 || true; fail "the answers changed with the upgrade"; }
stop_daemon
(as_povtrack povtrack verify -d /var/lib/povtrack) >"$work/verify.out" 2>&1 ||
  { cat "$work/verify.out" >&2; fail "verify after the upgrade"; }

# ---- 6. remove, purge
step "apt-get remove: configuration and data kept"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 remove -y -qq povtrack povtrack-dev \
  libpovtrack-client1 >/dev/null 2>&1 || fail "apt-get remove"
[ ! -e /usr/bin/povtrackd ] || fail "povtrackd is still there after remove"
for f in /etc/povtrack/povtrackd.conf /etc/povtrack/publishers.ini \
  /etc/default/povtrack-backup /var/lib/povtrack/log/data.mdb; do
  [ -f "$f" ] || fail "remove took $f"
done
step "apt-get purge: configuration gone; the data, the backups and the user kept"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -qq povtrack >/dev/null 2>&1 ||
  fail "apt-get purge"
[ ! -e /etc/povtrack ] || fail "purge left /etc/povtrack: $(ls -A /etc/povtrack)"
[ ! -e /etc/default/povtrack-backup ] || fail "purge left /etc/default/povtrack-backup"
[ -f /var/lib/povtrack/log/data.mdb ] || fail "purge took the event log"
[ -L /var/backups/povtrack/latest ] || fail "purge took the backups"
getent passwd povtrack >/dev/null || fail "purge took the user povtrack"
if dpkg-query -W -f='${Status}' povtrack 2>/dev/null | grep -q 'installed\|config-files'; then
  fail "dpkg still knows povtrack after the purge"
fi

# deb-check's own data: removed as the README tells an operator to.
rm -rf /var/lib/povtrack /var/backups/povtrack
userdel povtrack
getent group povtrack >/dev/null && groupdel povtrack
rm -f "$MARKER"
echo "deb-check: ok: built, installed, served, upgraded, removed and purged in $(($(date +%s) - t0)) s"
