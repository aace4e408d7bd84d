#!/usr/bin/env bash
# tests/test_units.sh -- the systemd units and sysusers.d entry as meson
# generates and installs them (contrib/meson.build): ExecStart= names the
# vmvarsd meson installs, every file the units and the entry refer to is
# installed, the unit's User= is the user sysusers.d creates, and
# `systemd-analyze verify` and `systemd-sysusers --dry-run` accept them.
# (tests/test_daemon.c test_unit_as_shipped runs the daemon as the unit
# does.)  Prints TAP.
#
# meson passes VMVARS_BUILD_ROOT, VMVARSD (the build's daemon), VMVARS_SBINDIR
# and VMVARS_SRC.  systemd-analyze and systemd-sysusers come with Debian's
# systemd package (./dev deps installs it); without them those cases SKIP.
set -u

BUILD=${VMVARS_BUILD_ROOT:?}
VMVARSD=${VMVARSD:?}
SBINDIR=${VMVARS_SBINDIR:?}
SRC=${VMVARS_SRC:?}
UNITS=$BUILD/contrib
T=$(mktemp -d /tmp/vmvars-units-XXXXXX)
trap 'rm -rf "$T"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
checkx() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
# value FILE KEY: the value of KEY= in FILE
value() { sed -n "s/^$2=//p" "$1" | head -n 1; }

echo "1..7"

service=$UNITS/vmvarsd@.service
exec_start=$(value "$service" ExecStart)
checkx "ExecStart= runs the vmvarsd meson installs ($SBINDIR/vmvarsd), as the state directory's user" \
	'test "$exec_start" = "$SBINDIR/vmvarsd --state-dir /var/lib/vmvars/%i" -a "$(value "$service" User)" = vmvars -a "$(value "$service" StateDirectory)" = "vmvars/%i"'

# What `meson install` writes, from meson's own plan.
meson introspect --installed "$BUILD" | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' >"$T/installed"
missing=
for u in vmvarsd@.service vmvarsd@.socket vmvarsd-mgmt@.socket; do
	grep -q "/systemd/system/$u\$" "$T/installed" || missing="$missing $u"
done
for doc in $(value "$service" Documentation); do
	case $doc in
	file:*) grep -qx "${doc#file:}" "$T/installed" || missing="$missing $doc" ;;
	man:*) page=${doc#man:}; name=${page%%(*}; sect=${page#*(}; sect=${sect%)}
	       grep -q "/man$sect/$name.$sect\$" "$T/installed" || missing="$missing $doc" ;;
	*) missing="$missing $doc(unknown scheme)" ;;
	esac
done
grep -q "/sysusers.d/vmvars.conf\$" "$T/installed" || missing="$missing sysusers.d/vmvars.conf"
checkx "installed: the three units, every Documentation= page, sysusers.d/vmvars.conf${missing:+ (missing:$missing)}" \
	'test -z "$missing"'

# Root never runs the daemon: no --user (a root start dropping to a user
# who does not own the state directory), no capability to keep.
checkx "the service starts vmvarsd as its user: no --user, empty CapabilityBoundingSet=, NoNewPrivileges=yes" \
	'[[ $exec_start != *--user* ]] && grep -qx "CapabilityBoundingSet=" "$service" && test "$(value "$service" NoNewPrivileges)" = yes'

conf=$SRC/contrib/sysusers.d/vmvars.conf
checkx "sysusers.d/vmvars.conf creates the unit's User= as a system user" \
	'grep -Eq "^u[[:space:]]+vmvars[[:space:]]+-[[:space:]]" "$conf"'

# What `meson install` really writes, into a staging tree as a
# distribution package build does (DESTDIR): every file of the plan there.
DEST=$T/dest
meson install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST" >"$T/install.txt" 2>&1
rc=$?
sed 's/^/# /' "$T/install.txt"
absent=
while IFS= read -r f; do
	[ -e "$DEST$f" ] || absent="$absent $f"
done <"$T/installed"
checkx "meson install --destdir: exit 0, every file of the plan installed (units, sysusers.d, man pages, docs, programs)${absent:+ (absent:$absent)}" \
	'test "$rc" = 0 -a -z "$absent" -a -x "$DEST$SBINDIR/vmvarsd"'

if command -v systemd-analyze >/dev/null; then
	# verify the INSTALLED units inside the staging tree (--root): their
	# ExecStart= must name the installed vmvarsd, which verify checks is
	# there and executable.  The host's own units (sysinit.target, ...)
	# are copied in, as a real root has them.  Unknown keys and bad
	# values are only warnings to verify, so any output fails the case.
	# --man=no: the man page is checked in the install plan above.
	mkdir -p "$DEST/usr/lib/systemd"
	cp -a /usr/lib/systemd/system "$DEST/usr/lib/systemd/"
	systemd-analyze verify --root="$DEST" --man=no vmvarsd@vm1.service vmvarsd@vm1.socket \
		vmvarsd-mgmt@vm1.socket >"$T/verify.txt" 2>&1
	rc=$?
	sed 's/^/# /' "$T/verify.txt"
	checkx "systemd-analyze verify --root=DESTDIR: the installed service and both sockets, exit 0 and not one warning" \
		'test "$rc" = 0 -a ! -s "$T/verify.txt"'
else
	skip "systemd-analyze verify" "systemd-analyze not installed (Debian: systemd)"
fi

if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$T/root/etc"
	systemd-sysusers --dry-run --root="$T/root" "$conf" >"$T/sysusers.txt" 2>&1
	rc=$?
	sed 's/^/# /' "$T/sysusers.txt"
	checkx "systemd-sysusers --dry-run accepts vmvars.conf and would create user vmvars" \
		'test "$rc" = 0 && grep -q "Creating user '"'"'vmvars'"'"'" "$T/sysusers.txt"'
else
	skip "systemd-sysusers --dry-run" "systemd-sysusers not installed (Debian: systemd)"
fi
