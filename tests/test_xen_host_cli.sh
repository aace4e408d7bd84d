#!/usr/bin/env bash
# tests/test_xen_host_cli.sh -- the vmvars-xen program (src/xen/main.c) as
# an operator runs it: --help and --version, every option refused with
# exit status 2 and the reason, and -- this machine runs no Xen hypervisor
# -- a valid command line stopping at the first Xen call with exit status 1
# and "cannot open the Xen device model interface".  What runs past that
# point is tested with simulated operations in test_xen_host.  Prints TAP.
#
# meson passes VMVARS_XEN (the built program).
set -u

XEN=${VMVARS_XEN:?}
T=$(mktemp -d /tmp/vmvars-xen-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

# expect DESC STATUS PATTERN STREAM ARGS...: the exit status and a fixed
# string that the stream (out or err) must contain
expect() {
	local desc=$1 want=$2 pat=$3 stream=$4 got
	shift 4
	"$XEN" "$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" != "$want" ]; then
		notok "$desc (status $got, want $want; stderr: $(head -c 300 "$T/err"))"
	elif ! grep -qF -- "$pat" "$T/$stream"; then
		notok "$desc (no '$pat' in std$stream: $(head -c 300 "$T/$stream"))"
	else
		ok "$desc"
	fi
}

echo "1..16"

expect "--help prints the usage" 0 "usage: vmvars-xen --domid DOMID --vcpus N" out --help
expect "--version" 0 "vmvars-xen 0.1.0" out --version
expect "no options: --domid and --vcpus required" 2 "--domid and --vcpus are required" err
expect "--vcpus missing" 2 "--domid and --vcpus are required" err --domid 1 --state-dir "$T"
expect "domain 0 is not a guest" 2 "bad --domid 0: a guest domain is 1 to 32751" err \
	--domid 0 --vcpus 1 --state-dir "$T"
expect "reserved domain id 32752" 2 "bad --domid 32752" err --domid 32752 --vcpus 1 --state-dir "$T"
expect "domid not a number" 2 "bad --domid 1x" err --domid 1x --vcpus 1 --state-dir "$T"
expect "negative domid" 2 "bad --domid -1" err --domid -1 --vcpus 1 --state-dir "$T"
expect "0 vCPUs" 2 "bad --vcpus 0: 1 to 128" err --domid 1 --vcpus 0 --state-dir "$T"
expect "129 vCPUs (more than an ioreq page's slots)" 2 "bad --vcpus 129" err \
	--domid 1 --vcpus 129 --state-dir "$T"
expect "neither --state-dir nor --vmm-socket" 2 "give one of --state-dir and --vmm-socket" err \
	--domid 1 --vcpus 1
expect "both --state-dir and --vmm-socket" 2 "give one of --state-dir and --vmm-socket" err \
	--domid 1 --vcpus 1 --state-dir "$T" --vmm-socket "$T/vmm.sock"
expect "an unknown option" 2 "usage: vmvars-xen" err --domid 1 --vcpus 1 --state-dir "$T" --bogus
expect "a stray argument" 2 "unexpected argument extra" err --domid 1 --vcpus 1 --state-dir "$T" extra

# No Xen here: the first library call fails, before any socket is opened.
if [ -e /dev/xen/privcmd ] || [ -e /proc/xen/privcmd ]; then
	ok "# SKIP this machine has a Xen privcmd device: the no-Xen failure cannot be shown"
	ok "# SKIP (as above)"
else
	expect "no Xen: the device model interface cannot be opened (exit 1)" 1 \
		"vmvars-xen: cannot open the Xen device model interface: " err \
		--domid 1 --vcpus 2 --state-dir "$T"
	if [ -e "$T/vmm.sock" ] || [ "$(wc -l <"$T/err")" -gt 20 ]; then
		notok "nothing else happened (files: $(ls "$T"))"
	else
		ok "nothing else happened: no socket, a short report"
	fi
fi
