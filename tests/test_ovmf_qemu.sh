#!/usr/bin/env bash
# tests/test_ovmf_qemu.sh -- vmvars against the real firmware (issue #5, "Real
# firmware in the tests"): Debian's OVMF booted under QEMU (TCG, no KVM) reads
# the flash files vmvars writes, and vmvars reads the flash files OVMF writes.
#
#   1. fd stores written by vmvars (from Debian's OVMF_VARS_4M.fd template and
#      from scratch) boot, and OVMF's own `dmpstore -guid G` on the serial
#      console shows exactly the variables vmvars set: names, attributes, sizes
#      and every byte.
#   2. Variables made with the shell's `setvar`, and the boot entries BdsDxe
#      writes itself, are read back by `vmvars list/get/boot list --json` from
#      the vars file QEMU wrote, and equal what dmpstore and BdsDxe printed.
#   3. Secure Boot: PK/KEK/db generated with openssl and enrolled by vmvars
#      into a copy of OVMF_VARS_4M.fd; OVMF_CODE_4M.secboot.fd (SMM, secure
#      pflash) runs efitools' HelloWorld.efi signed with the db key and
#      refuses it unsigned and signed by a key that is not in db (BdsDxe
#      boots each from its own disk; the secboot shell will not run).
#      3b. Debian's OVMF_VARS_4M.ms.fd plus that db key, rolled over to
#      Microsoft's 2023 CAs and newest dbx by `vmvars rollover` (issue #16),
#      boots the same three disks the same way.
#   4. JSON <-> fd <-> aws <-> xen round trips through `vmvars convert` on
#      Debian's templates (and the aws interop vectors when present).
#   5. A VM's flash set up from QEMU's firmware descriptors (issue #7):
#      `vmvars firmware instantiate` picks Debian's x86_64 descriptor for q35
#      without Secure Boot, copies its NVRAM template, and QEMU boots with
#      exactly the arguments it printed (-blockdev nodes and -machine
#      pflash0=,pflash1=, the form libvirt uses); the variable the shell sets
#      is in the VM's copy and the template is untouched.
#
# Each QEMU run: `timeout 120`, -accel tcg, q35, read-only virtio `fat:`
# drives (vvfat; an IDE disk cannot be read-only), serial console to a file.
# Cases 1-2 run startup.nsh in the shell, ending with `reset -s`, so QEMU
# exits by itself (case 5 too).  About 50 s of QEMU in all.
#
# VMVARS is the binary (meson passes it); VMVARS_QEMU and VMVARS_OVMF_DIR
# override qemu-system-x86_64 and /usr/share/OVMF.  Missing QEMU, OVMF, efitools or
# sbsigntool: the cases SKIP, saying what is missing -- except under CI=true,
# where ./dev deps installs them and a missing one is a failure.  Prints TAP.
set -u

VMVARS=${VMVARS:?VMVARS must name the vmvars binary}
OVMF_DIR=${VMVARS_OVMF_DIR:-/usr/share/OVMF}
CODE=$OVMF_DIR/OVMF_CODE_4M.fd
CODE_SB=$OVMF_DIR/OVMF_CODE_4M.secboot.fd
VARS=$OVMF_DIR/OVMF_VARS_4M.fd
QEMU=${VMVARS_QEMU:-qemu-system-x86_64}
SRC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d /tmp/vmvars-qemu-XXXXXX)
# VMVARS_TEST_KEEP=1 keeps the work directory (serial logs, vars files).
if [ -n "${VMVARS_TEST_KEEP:-}" ]; then
	echo "# work directory kept: $T"
else
	trap 'rm -rf "$T"' EXIT
fi
cd "$T" || exit 1

# Test namespaces: G for what vmvars writes, G2 for what the shell writes.
G=5e1f0c3a-7b2d-4c8e-9a61-0d3f2b4c6e8a
G2=0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d

PLAN=58
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# skip DESC REASON: under CI a missing tool is a failure (CI installs them)
skip() {
	if [ "${CI:-}" = true ]; then
		notok "$1 (CI=true, yet $2)"
	else
		n=$((n + 1)); echo "ok $n - $1 # SKIP $2"
	fi
}
skip_n() { local i; for i in $(seq 1 "$1"); do skip "$2 ($i/$1)" "$3"; done; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
checkx() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
# same DESC EXPECTED ACTUAL: equality, and on failure both shown as comments
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		notok "$1"
		printf '%s\n' "expected:" "$2" "actual:" "$3" | sed 's/^/#   /'
	fi
}
vv() { "$VMVARS" "$@"; }
hexof() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# boot_ovmf NAME CODE VARS SECURE STOP DRIVE-ARGS...: one QEMU run bounded by
# `timeout 120`.  SECURE=secure: SMM and secure pflash (what the secboot build
# needs).  STOP: empty when the guest powers itself off (reset -s); else a
# text that, once on the serial console, means the run has shown what it must
# (e.g. an application waiting for a key): this function then stops the QEMU
# it started, by its pid.  The serial console, without ANSI escapes and CRs,
# ends up in NAME.log.  Returns 0, or QEMU's status (124: timeout stopped it).
boot_ovmf() {
	local name=$1 code=$2 vars=$3 secure=$4 stop=$5 machine=q35 rc pid stopped=false
	shift 5
	local extra=() pflash=()
	# CODE "-": the caller gives the pflash drives among DRIVE-ARGS.
	[ "$code" != - ] && pflash=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
		-drive "if=pflash,format=raw,unit=1,file=$vars")
	if [ "$secure" = secure ]; then
		machine=q35,smm=on
		extra=(-global driver=cfi.pflash01,property=secure,value=on)
	fi
	local t0=$SECONDS
	: >"$name.serial"
	timeout 120 "$QEMU" -accel tcg -machine "$machine" "${extra[@]}" -m 256 \
		-nographic -nodefaults -monitor none -serial "file:$name.serial" -net none \
		"${pflash[@]}" "$@" </dev/null >"$name.qemu.out" 2>&1 &
	pid=$!
	if [ -n "$stop" ]; then
		while kill -0 "$pid" 2>/dev/null; do
			if grep -aqF -- "$stop" "$name.serial"; then
				sleep 1
				kill "$pid" 2>/dev/null
				stopped=true
				break
			fi
			sleep 0.5
		done
	fi
	wait "$pid"
	rc=$?
	$stopped && rc=0
	sed 's/\x1b\[[0-9;?=]*[A-Za-z]//g' "$name.serial" 2>/dev/null | tr -d '\r' >"$name.log"
	echo "# QEMU $name: exit $rc after $((SECONDS - t0)) s$($stopped && echo ", stopped by the test once it saw \"$stop\"")"
	if [ "$rc" != 0 ]; then
		sed 's/^/#   qemu: /' "$name.qemu.out"
		tail -n 15 "$name.log" | cut -c1-200 | sed 's/^/#   serial: /'
	fi
	return "$rc"
}

# startup_nsh DIR LINES...: the shell script, CRLF line ends, echo off, and a
# final `reset -s` so QEMU powers off.
startup_nsh() {
	local dir=$1 l
	shift
	mkdir -p "$dir"
	{
		printf '@echo -off\r\n'
		for l in "$@"; do printf '%s\r\n' "$l"; done
		printf 'reset -s\r\n'
	} >"$dir/startup.nsh"
}

# dmpstore LOG [BEGIN END]: the variables dmpstore printed (between the two
# marker lines when given), one "Name ATTRS hex" line each, sorted, with
# attributes in vmvars' order (NV|BS|RT|HR|AW|AT).  Each record is
#   Variable NV+RT+BS '<guid>:<Name>' DataSize = 0x04
# (the GUID is a name such as EFIGlobalVariable when the shell knows it)
#     00000000: A0 02 01 00                                      *....*
# The hex column ends at the '*' that opens the ASCII column; the DataSize
# must equal the number of bytes dumped, or the line says "BADSIZE".
dmpstore() {
	python3 - "$@" <<'EOF'
import re, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
if len(sys.argv) > 3:
    b = lines.index(sys.argv[2]) if sys.argv[2] in lines else len(lines)
    e = lines.index(sys.argv[3], b) if sys.argv[3] in lines[b:] else len(lines)
    lines = lines[b:e]
order = ["NV", "BS", "RT", "HR", "AW", "AT"]
head = re.compile(r"^Variable ([A-Z+]+) '([^':]+):(.*)' DataSize = 0x([0-9A-Fa-f]+)$")
row = re.compile(r"^\s*[0-9A-Fa-f]{8}: ([^*]*)\*")
out, cur = [], None
def flush():
    if cur is not None:
        name, attrs, size, data = cur
        hexs = "".join(data).lower()
        out.append("%s %s %s" % (name, attrs, hexs if len(hexs) == 2 * size else "BADSIZE"))
for l in lines:
    m = head.match(l.strip())
    if m:
        flush()
        attrs = "|".join(a for a in order if a in m.group(1).split("+"))
        cur = [m.group(3), attrs, int(m.group(4), 16), []]
        continue
    m = row.match(l)
    if m and cur is not None:
        cur[3].extend(re.findall(r"[0-9A-Fa-f]{2}", m.group(1)))
flush()
print("\n".join(sorted(out)))
EOF
}

# vvdump FILE GUID: the same "Name ATTRS hex" lines, from vmvars.
vvdump() {
	local f=$1 g=$2 name
	vv list "$f" --guid "$g" --json | python3 -c '
import json, sys
for v in json.load(sys.stdin): print(v["name"], v["attributes"])' |
	while read -r name attrs; do
		echo "$name $attrs $(vv get "$f" "$name" --guid "$g" --hex)"
	done | sort
}

have_qemu=true why=
command -v "$QEMU" >/dev/null || { have_qemu=false; why="$QEMU not installed (Debian: qemu-system-x86)"; }
for f in "$CODE" "$VARS"; do
	[ -r "$f" ] || { have_qemu=false; why="${why:+$why; }$f missing (Debian: ovmf)"; }
done
command -v python3 >/dev/null || { have_qemu=false; why="${why:+$why; }python3 missing"; }
HELLO=
for h in /usr/lib/efitools/x86_64-linux-gnu/HelloWorld.efi /usr/share/efitools/efi/HelloWorld.efi; do
	[ -r "$h" ] && { HELLO=$h; break; }
done
have_sb=$have_qemu why_sb=$why
[ -r "$CODE_SB" ] || { have_sb=false; why_sb="${why_sb:+$why_sb; }$CODE_SB missing (Debian: ovmf)"; }
[ -n "$HELLO" ] || { have_sb=false; why_sb="${why_sb:+$why_sb; }HelloWorld.efi missing (Debian: efitools)"; }
for c in sbsign openssl; do
	command -v $c >/dev/null || { have_sb=false; why_sb="${why_sb:+$why_sb; }$c missing (Debian: sbsigntool, openssl)"; }
done

echo "1..$PLAN"

# ---- 1 and 2: vmvars writes, OVMF reads; OVMF writes, vmvars reads -----------
# Distinct values: one byte, a NUL-terminated string, 300 bytes (19 dump
# lines), and a variable without RT.
BLOB=$(python3 -c 'print(bytes((i * 7 + 3) & 0xff for i in range(300)).hex())')
EXPECT=$(printf '%s\n' \
	"VvtBlob NV|BS|RT $BLOB" \
	"VvtBsOnly NV|BS 0102030405060708090a0b0c0d0e0f1011" \
	"VvtByte NV|BS|RT a5" \
	"VvtText NV|BS|RT $(printf 'vmvars wrote this\0' | od -An -tx1 -v | tr -d ' \n')" | sort)

# fill STORE: the four variables under G
fill() {
	vv set "$1" VvtByte --data a5 --guid $G --attr NV,BS,RT &&
	vv set "$1" VvtText --string "vmvars wrote this" --guid $G --attr NV,BS,RT &&
	vv set "$1" VvtBlob --data "$BLOB" --guid $G --attr NV,BS,RT &&
	vv set "$1" VvtBsOnly --data 0102030405060708090a0b0c0d0e0f1011 --guid $G --attr NV,BS
}

# The shell script of both boots: dump G (what vmvars wrote), create two
# variables under G2 (hex bytes and a 0x number), dump G2 and the boot
# variables BdsDxe wrote before the shell started.
SHELL_LINES=(
	"echo VVT-G-BEGIN"
	"dmpstore -guid $G"
	"echo VVT-G-END"
	"setvar VvtShellHex -guid $G2 -nv -bs -rt =DEADBEEF0102"
	"setvar VvtShellNum -guid $G2 -nv -bs =0x0102A0"
	"echo VVT-G2-BEGIN"
	"dmpstore -guid $G2"
	"echo VVT-G2-END"
	"echo VVT-BOOT-BEGIN"
	"dmpstore BootOrder"
	"dmpstore Boot0000"
	"dmpstore Boot0001"
	"dmpstore Boot0002"
	"echo VVT-BOOT-END"
)
startup_nsh fat1 "${SHELL_LINES[@]}"

# boot_case LABEL STORE: cases 1 and 2 on one store (8 results)
boot_case() {
	local label=$1 st=$2 got
	same "$label: vmvars sees its own four variables before the boot" "$EXPECT" "$(vvdump "$st" $G)"
	if ! boot_ovmf "$label" "$CODE" "$st" "" "" -drive "file=fat:fat1,format=raw,if=virtio,readonly=on"; then
		notok "$label: OVMF boots and powers off by itself (startup.nsh, reset -s)"
		for got in 1 2 3 4 5 6 7; do notok "$label: (no boot, no result $got/7)"; done
		return
	fi
	ok "$label: OVMF boots to its shell, runs startup.nsh and powers off"
	got=$(dmpstore "$label.log" VVT-G-BEGIN VVT-G-END)
	same "$label: OVMF's dmpstore -guid shows exactly vmvars' variables, attributes and bytes" "$EXPECT" "$got"
	same "$label: vmvars reads its variables back, unchanged, from the file OVMF wrote" "$EXPECT" "$(vvdump "$st" $G)"
	# case 2: the shell's setvar
	got=$(dmpstore "$label.log" VVT-G2-BEGIN VVT-G2-END)
	same "$label: setvar results as dmpstore prints them (hex bytes; 0x number as UINT32 LE)" \
		"$(printf '%s\n' "VvtShellHex NV|BS|RT deadbeef0102" "VvtShellNum NV|BS a0020100")" "$got"
	same "$label: vmvars list/get read the setvar variables from QEMU's flash file" "$got" "$(vvdump "$st" $G2)"
	vv get "$st" VvtShellHex --guid $G2 --json >"$label.shell.json" 2>&1
	same "$label: vmvars get --json: attr 7, data deadbeef0102" "7 deadbeef0102" \
		"$(python3 -c "import json; d=json.load(open('$label.shell.json')); print(d['attr'], d['data'])" 2>&1)"
	# case 2: the boot entries BdsDxe wrote, byte for byte as dmpstore shows them
	got=$(dmpstore "$label.log" VVT-BOOT-BEGIN VVT-BOOT-END)
	local mine="" v
	for v in BootOrder Boot0000 Boot0001 Boot0002; do
		mine+="$v $(vv list "$st" --json | python3 -c "import json,sys; print([x['attributes'] for x in json.load(sys.stdin) if x['name']=='$v' and x['guid_name']=='EfiGlobalVariable'][0])" 2>&1) $(vv get "$st" $v --hex 2>&1)"$'\n'
	done
	checkx "$label: OVMF wrote BootOrder and Boot0000-0002, and vmvars reads the same attributes and bytes" \
		'[ $(echo "$got" | wc -l) = 4 ] && [ "$got" = "$(printf %s "$mine" | sort)" ]'
	# and decodes them as BdsDxe names them on the console:
	#   BdsDxe: loading Boot0002 "EFI Internal Shell" from Fv(...)/FvFile(...)
	local bds vvb
	bds=$(sed -n 's/^BdsDxe: \(failed to load\|loading\) \(Boot[0-9A-F]\{4\}\) "\([^"]*\)" from \([^:]*\)\(: .*\)\?$/\2|\3|\4/p' "$label.log" | sort -u)
	vvb=$(vv boot list "$st" --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]: print("%s|%s|%s" % (e["name"], e["title"], e["devpath"]))' | sort)
	checkx "$label: vmvars boot list decodes each entry BdsDxe tried (title, device path text) as BdsDxe printed it" \
		'[ -n "$bds" ] && [ -z "$(comm -23 <(echo "$bds") <(echo "$vvb"))" ]'
	[ -n "$bds" ] && echo "$bds" | sed 's/^/#   BdsDxe: /'
}

if $have_qemu; then
	# from Debian's template
	run_ok=true
	vv create --template "$VARS" --format fd tmpl.fd || run_ok=false
	fill tmpl.fd || run_ok=false
	check "template: vmvars create --template OVMF_VARS_4M.fd --format fd and 4 x set: exit 0, size kept" \
		eval '$run_ok && [ "$(stat -c %s tmpl.fd)" = "$(stat -c %s "$VARS")" ]'
	boot_case template tmpl.fd
	# from scratch
	run_ok=true
	vv create --format fd empty.fd || run_ok=false
	checkx "scratch: vmvars create --format fd (no template) is Debian's OVMF_VARS_4M.fd byte for byte" \
		'$run_ok && cmp -s empty.fd "$VARS"'
	# The variables go into a JSON store, and convert writes the fd with no
	# template at all: the from-scratch layout writer, with records in it.
	run_ok=true
	vv create scratch.json && fill scratch.json && vv convert scratch.json scratch.fd --to fd || run_ok=false
	check "scratch: 4 x set in a JSON store, vmvars convert --to fd without a template: exit 0, 4 MiB-build size" \
		eval '$run_ok && [ "$(stat -c %s scratch.fd)" = "$(stat -c %s "$VARS")" ]'
	boot_case scratch scratch.fd
else
	skip_n 21 "cases 1-2: vmvars fd stores under OVMF, setvar and boot entries read back" "$why"
fi

# ---- 3: Secure Boot with keys vmvars enrolled --------------------------------
if $have_sb; then
	for k in PK KEK db other; do
		openssl req -new -x509 -newkey rsa:2048 -nodes -subj "/CN=vmvars qemu test $k/" \
			-keyout $k.key -out $k.crt -days 3650 -sha256 >/dev/null 2>&1
	done
	vv create --template "$VARS" --format fd sb.fd
	run_ok=true
	vv enroll sb.fd PK PK.crt --owner $G || run_ok=false
	vv enroll sb.fd KEK KEK.crt --owner $G || run_ok=false
	vv enroll sb.fd db db.crt --owner $G || run_ok=false
	check "sb: vmvars enroll PK, KEK, db (openssl certificates) into a copy of OVMF_VARS_4M.fd: exit 0" $run_ok
	vv sb-state sb.fd --require-secure-boot >sbstate.txt 2>&1
	rc=$?
	vv sb-state sb.fd --json >sbstate.json 2>&1
	same "sb: vmvars sb-state --require-secure-boot exit 0; user mode, enforced, 1 PK / 1 KEK / 1 db" \
		"0 user True {'PK': 1, 'KEK': 1, 'db': 1, 'dbx': 0}" \
		"$rc $(python3 -c "import json; d=json.load(open('sbstate.json')); print(d['mode'], d['enforced'], d['keys'])" 2>&1)"
	# Debian's secboot build will not start its own shell with Secure Boot
	# on (BdsDxe: "Security Violation"), so no startup.nsh here: three
	# read-only disks, each with \EFI\BOOT\BOOTX64.EFI, at fixed PCI slots
	# that BdsDxe tries in order (it makes one boot entry per disk): unsigned
	# at 04, signed by a key not in db at 05, signed with the db key at 06.
	# HelloWorld then waits for a key, so the run stops once its text shows.
	for d in d4 d5 d6; do mkdir -p $d/EFI/BOOT; done
	cp "$HELLO" d4/EFI/BOOT/BOOTX64.EFI
	sbsign --key other.key --cert other.crt --output d5/EFI/BOOT/BOOTX64.EFI "$HELLO" >/dev/null 2>&1
	sbsign --key db.key --cert db.crt --output d6/EFI/BOOT/BOOTX64.EFI "$HELLO" >/dev/null 2>&1
	checkx "sb: sbsign signed HelloWorld.efi with the db key and with a key not in db" \
		'[ -s d5/EFI/BOOT/BOOTX64.EFI ] && [ -s d6/EFI/BOOT/BOOTX64.EFI ] && ! cmp -s d5/EFI/BOOT/BOOTX64.EFI "$HELLO"'
	keys_before=$(for k in PK KEK db; do vv get sb.fd $k --hex 2>&1; done)
	HELLO_TEXT="To execute an unsigned binary in secure boot mode"
	disks=()
	for d in 4 5 6; do
		disks+=(-drive "file=fat:d$d,format=raw,if=none,id=d$d,readonly=on"
			-device "virtio-blk-pci,drive=d$d,addr=0x$d")
	done
	# bds_line PCI: what BdsDxe printed last about the entry on that disk
	bds_line() { grep -a "^BdsDxe: .* from PciRoot(0x0)/Pci(0x$1,0x0)" secureboot.log | tail -n 1; }
	if boot_ovmf secureboot "$CODE_SB" sb.fd secure "$HELLO_TEXT" "${disks[@]}" &&
	   grep -aqF "$HELLO_TEXT" secureboot.log; then
		ok "sb: OVMF_CODE_4M.secboot.fd (SMM, secure pflash) boots the vmvars store and BdsDxe reaches a HelloWorld.efi"
		grep -a '^BdsDxe:' secureboot.log | sed 's/^/#   /'
		checkx "sb: the unsigned binary is refused (BdsDxe: failed to load ...: Access Denied / Security Violation)" \
			'[[ $(bds_line 4) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
		checkx "sb: the binary signed by a key not in db is refused" \
			'[[ $(bds_line 5) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
		checkx "sb: the binary signed with the enrolled db key starts, and its output appears exactly once" \
			'[[ $(bds_line 6) == "BdsDxe: starting "* ]] && [ "$(grep -aoF "$HELLO_TEXT" secureboot.log | wc -l)" = 1 ] &&
			 [ "$(sed -n "/Pci(0x6,0x0)\$/,\$p" secureboot.log | grep -acF "$HELLO_TEXT")" = 1 ]'
		keys_after=$(for k in PK KEK db; do vv get sb.fd $k --hex 2>&1; done)
		checkx "sb: PK, KEK and db in QEMU's flash file are the bytes vmvars enrolled" \
			'[ "$keys_after" = "$keys_before" ] && [ "$(grep -c "^[0-9a-f]\{200,\}\$" <<<"$keys_after")" = 3 ]'
		vv sb-state sb.fd --require-secure-boot >/dev/null 2>&1
		check "sb: after the boot, vmvars sb-state --require-secure-boot on QEMU's flash file: still exit 0" test $? = 0
	else
		notok "sb: OVMF_CODE_4M.secboot.fd boots the vmvars store and BdsDxe reaches a HelloWorld.efi"
		for i in 1 2 3 4 5; do notok "sb: (no boot, no result $i/5)"; done
	fi

	# 3b (issue #16): Debian's OVMF_VARS_4M.ms.fd with the test's db key
	# added, rolled over to Microsoft's 2023 CAs and newest dbx (the
	# project's copy of Microsoft's signed objects): the real firmware still
	# boots it, runs the binary signed by a key in db and refuses the others.
	if [ -f "$OVMF_DIR/OVMF_VARS_4M.ms.fd" ] && [ -n "${VMVARS_MS_DATA:-}" ]; then
		cp "$OVMF_DIR/OVMF_VARS_4M.ms.fd" ro.fd
		vv enroll ro.fd db db.crt --owner $G >/dev/null 2>&1
		vv rollover ro.fd --allow-host-kek >rollover.txt 2>&1
		rc=$?
		same "rollover: Debian's ms.fd (+ the test's db key) rolled over: exit 0, sb-state ready, enforced" \
			"0 ready True" \
			"$rc $(vv sb-state ro.fd --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['verdict'], d['enforced'])" 2>&1)"
		if boot_ovmf rollover "$CODE_SB" ro.fd secure "$HELLO_TEXT" "${disks[@]}" &&
		   grep -aqF "$HELLO_TEXT" rollover.log; then
			ok "rollover: OVMF_CODE_4M.secboot.fd boots the rolled-over store and reaches a HelloWorld.efi"
			rbds_line() { grep -a "^BdsDxe: .* from PciRoot(0x0)/Pci(0x$1,0x0)" rollover.log | tail -n 1; }
			checkx "rollover: the unsigned binary is still refused" \
				'[[ $(rbds_line 4) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
			checkx "rollover: the binary signed by a key not in db is still refused" \
				'[[ $(rbds_line 5) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
			checkx "rollover: the binary signed with the db key still starts" \
				'[[ $(rbds_line 6) == "BdsDxe: starting "* ]]'
		else
			notok "rollover: OVMF_CODE_4M.secboot.fd boots the rolled-over store and reaches a HelloWorld.efi"
			for i in 1 2 3; do notok "rollover: (no boot, no result $i/3)"; done
		fi
	else
		skip_n 5 "case 3b: a rolled-over store under OVMF" "no OVMF_VARS_4M.ms.fd or VMVARS_MS_DATA"
	fi

	# 3c (issue #16 item 4): a store provisioned in one command (`vmvars
	# create --pk`: the test's PK, Microsoft's 2011 and 2023 KEK/db, the
	# newest dbx, Secure Boot on), plus the test's db key: the real firmware
	# enforces it -- the db-signed binary starts, the others are refused.
	if [ -n "${VMVARS_MS_DATA:-}" ]; then
		rm -f pv.fd
		vv create pv.fd --pk PK.crt --microsoft both >create.txt 2>&1
		rc=$?
		vv enroll pv.fd db db.crt --owner $G >/dev/null 2>&1
		same "provisioned: vmvars create --pk --microsoft both, then the db key: exit 0, user mode, enforced, ready" \
			"0 user True ready" \
			"$rc $(vv sb-state pv.fd --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['mode'], d['enforced'], d['verdict'])" 2>&1)"
		if boot_ovmf provisioned "$CODE_SB" pv.fd secure "$HELLO_TEXT" "${disks[@]}" &&
		   grep -aqF "$HELLO_TEXT" provisioned.log; then
			ok "provisioned: OVMF_CODE_4M.secboot.fd boots the provisioned store and reaches a HelloWorld.efi"
			pbds_line() { grep -a "^BdsDxe: .* from PciRoot(0x0)/Pci(0x$1,0x0)" provisioned.log | tail -n 1; }
			checkx "provisioned: the unsigned binary is refused" \
				'[[ $(pbds_line 4) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
			checkx "provisioned: the binary signed by a key not in db is refused" \
				'[[ $(pbds_line 5) =~ ^BdsDxe:\ failed\ to\ (load|start)\ .*:\ (Access\ Denied|Security\ Violation)$ ]]'
			checkx "provisioned: the binary signed with the db key starts" \
				'[[ $(pbds_line 6) == "BdsDxe: starting "* ]]'
		else
			notok "provisioned: OVMF_CODE_4M.secboot.fd boots the provisioned store and reaches a HelloWorld.efi"
			for i in 1 2 3; do notok "provisioned: (no boot, no result $i/3)"; done
		fi
	else
		skip_n 5 "case 3c: a provisioned store under OVMF" "no VMVARS_MS_DATA"
	fi
else
	skip_n 19 "case 3: Secure Boot with vmvars-enrolled keys" "$why_sb"
fi

# ---- 4: format round trips through the CLI -----------------------------------
# JSON and the formats vmvars writes are canonical for a given store, so a
# round trip is byte-compared; an fd written into a template equals that
# template byte for byte when the template holds no dead records (Debian's
# empty templates), and otherwise is compared through list --json and each
# variable's bytes (the template's deleted records are compacted away).
# rt SRC LABEL: 3 results
rt() {
	local src=$1 b=$2 ok1=true
	vv convert "$src" $b.json --to json 2>$b.err &&
	vv convert $b.json $b.aws --to aws 2>>$b.err &&
	vv convert $b.aws $b.xen --to xen 2>>$b.err &&
	vv convert $b.xen $b.back.json --to json 2>>$b.err &&
	vv convert $b.back.json $b.back.aws --to aws 2>>$b.err &&
	vv convert $b.back.json $b.back.xen --to xen 2>>$b.err || ok1=false
	[ -s $b.err ] && sed "s/^/#   $b: /" $b.err
	checkx "convert $b: fd -> JSON -> aws -> xen -> JSON: JSON, aws and xen byte-identical on the second pass" \
		'$ok1 && cmp -s $b.json $b.back.json && cmp -s $b.aws $b.back.aws && cmp -s $b.xen $b.back.xen'
	vv convert $b.back.json $b.back.fd --to fd --template "$src" 2>/dev/null
	vv list "$src" --json >$b.l1 2>&1
	vv list $b.back.fd --json >$b.l2 2>&1
	checkx "convert $b: JSON -> fd into the template: same variables (list --json) and data" \
		'[ -s $b.back.fd ] && cmp -s $b.l1 $b.l2 && vv convert $b.back.fd $b.fd.json --to json 2>/dev/null && cmp -s $b.fd.json $b.json'
	if python3 -c "import json,sys; sys.exit(0 if json.load(open('$b.l1')) == [] else 1)"; then
		check "convert $b: the empty template comes back byte for byte" cmp -s "$src" $b.back.fd
	else
		vv convert $b.back.json $b.back2.fd --to fd --template $b.back.fd 2>/dev/null
		check "convert $b: an fd vmvars wrote comes back byte for byte through JSON (template had dead records)" \
			cmp -s $b.back.fd $b.back2.fd
	fi
}
tmpls=(OVMF_VARS_4M.fd OVMF_VARS.fd OVMF_VARS_4M.ms.fd OVMF_VARS_4M.snakeoil.fd)
for t in "${tmpls[@]}"; do
	if [ -r "$OVMF_DIR/$t" ]; then
		rt "$OVMF_DIR/$t" "${t%.fd}"
	else
		skip_n 3 "convert $t" "$OVMF_DIR/$t missing (Debian: ovmf)"
	fi
done
# The aws interop vector (python-uefivars): aws -> JSON equals the same store
# given as JSON and as edk2 flash; through fd and xen and back it is unchanged.
D=${VMVARS_SHARED_DATA:-$SRC_ROOT/../shared/data}
V2=$D/aws/testdata
if [ -r "$V2/t02.aws" ] && [ -r "$V2/t02.edk2" ] && [ -r "$V2/t02.json" ]; then
	vv list "$V2/t02.aws" --json >va.l 2>&1
	vv list "$V2/t02.edk2" --json >ve.l 2>&1
	vv list "$V2/t02.json" --json >vj.l 2>&1
	checkx "vector t02: aws, edk2 and JSON list the same variables" 'cmp -s va.l ve.l && cmp -s va.l vj.l'
	vv convert "$V2/t02.aws" v.json --to json && vv convert v.json v.fd --to fd &&
		vv convert v.fd v.xen --to xen && vv convert v.xen v.aws --to aws &&
		vv convert v.aws v2.json --to json
	checkx "vector t02: aws -> JSON -> fd -> xen -> aws -> JSON is lossless (byte-identical JSON)" \
		'cmp -s v.json v2.json && [ "$(vv list v.aws --json)" = "$(cat va.l)" ]'
else
	skip_n 2 "aws interop vector t02" "$V2 not found (set VMVARS_SHARED_DATA)"
fi

# ---- 5: a VM's flash instantiated from QEMU's firmware descriptors ----------
FWDESC=/usr/share/qemu/firmware/60-edk2-x86_64.json
if $have_qemu && [ -r "$FWDESC" ]; then
	tmpl_sum=$(sha256sum <"$VARS")
	mkdir -p fw5
	vv firmware instantiate --arch x86_64 --machine pc-q35-8.2 --no-feature secure-boot \
		--vm vm5 --dir fw5 --json >fw5.json 2>fw5.err
	fwargs=()
	mapfile -t fwargs < <(python3 -c 'import json,sys; print("\n".join(json.load(open("fw5.json"))["qemu-args"]))' 2>/dev/null)
	sed 's/^/#   instantiate: /' fw5.err
	checkx "descriptors: instantiate picks $(basename "$FWDESC") for q35 without Secure Boot and copies its template (byte for byte)" \
		'grep -q "\"descriptor\": \"$FWDESC\"" fw5.json && cmp -s fw5/vm5_VARS.fd "$VARS" && [ "${#fwargs[@]}" = 10 ]'
	startup_nsh fat5 "setvar VvtFw5 -guid $G2 -nv -bs -rt =0A0B0C"
	if boot_ovmf fw5 - - "" "" "${fwargs[@]}" -drive "file=fat:fat5,format=raw,if=virtio,readonly=on"; then
		ok "descriptors: OVMF boots with exactly the printed QEMU arguments, runs startup.nsh, powers off"
	else
		notok "descriptors: OVMF boots with exactly the printed QEMU arguments, runs startup.nsh, powers off"
	fi
	same "descriptors: the shell's variable is in the VM's copy" "0a0b0c" \
		"$(vv get fw5/vm5_VARS.fd VvtFw5 --guid $G2 --hex 2>&1)"
	same "descriptors: the NVRAM template is untouched" "$tmpl_sum" "$(sha256sum <"$VARS")"
else
	skip_n 4 "descriptors: instantiate and boot" "${why:-$FWDESC missing (Debian: ovmf)}"
fi

echo "# $fails failed of $n"
[ "$n" = "$PLAN" ] || echo "# plan mismatch: ran $n of $PLAN"
exit 0
