#!/usr/bin/env bash
# tests/test_cli.sh -- the vmvars command-line tool end to end, as a person
# uses it: list/get/set/append/delete on JSON stores with exact exit codes
# and outputs, boot entries, Secure Boot enrollment from openssl and
# efitools inputs, .auth updates made by sign-efi-sig-list (accepted) and
# tampered (refused, file unchanged byte for byte), `vmvars sign` compared
# with sign-efi-sig-list, sb-state in each mode, --json parsed by python3,
# format conversion and bad input, sb-certs PEM export, enroll --from a
# distribution template, import of a JSON store, the store lock
# (writers refused while another process holds it, readers not),
# journaled stores (vars.json + vars.json.journal as vmvarsd leaves them
# after a crash): read and written as the daemon sees them, checked by a
# real vmvarsd started afterwards, and backup/restore/clone through
# snapshots (export, import-state, clone), and the Microsoft 2023 CA
# rollover with Microsoft's real signed objects (data/ms-secureboot).  Prints TAP.
#
# VMVARS is the binary, VMVARSD the daemon (meson passes both).  Cases needing efitools SKIP when
# it is missing (./dev deps installs it, so CI runs them).
set -u

VMVARS=${VMVARS:?VMVARS must name the vmvars binary}
T=$(mktemp -d /tmp/vmvars-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check DESC CONDITION-COMMAND...
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
# checkx DESC 'EXPRESSION': a compound condition, evaluated as one
checkx() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
# run CMD...: sets $out, $err, $rc
run() { "$@" >out.txt 2>err.txt; rc=$?; out=$(cat out.txt); err=$(cat err.txt); }
json_get() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

have_efitools=false
command -v sign-efi-sig-list >/dev/null && command -v cert-to-efi-sig-list >/dev/null &&
	command -v openssl >/dev/null && have_efitools=true

echo "1..193"

# ---- create, set, get, list, delete -----------------------------------------
run "$VMVARS" create s.json
check "create: exit 0, empty JSON v2 store" test "$rc" = 0 -a "$(json_get s.json "len(d['variables'])")" = 0
run "$VMVARS" create s.json
check "create: refuses to replace an existing file (exit 1)" test "$rc" = 1
run "$VMVARS" set s.json PlatformLang --string en
check "set PlatformLang: exit 0, nothing on stdout" test "$rc" = 0 -a -z "$out"
run "$VMVARS" get s.json PlatformLang --hex
check "get --hex: exact bytes 656e00" test "$rc" = 0 -a "$out" = 656e00
run "$VMVARS" get s.json PlatformLang
check "get decoded: attributes NV|BS|RT and ascii text" \
	test "$out" = $'PlatformLang EfiGlobalVariable NV|BS|RT size=3\n  ascii: "en"'
run "$VMVARS" set s.json Answer --u32 42 --guid 11111111-2222-3333-4444-555555555555 --attr NV,BS,RT
check "set with --guid and --attr: exit 0" test "$rc" = 0
run "$VMVARS" get s.json Answer --json
echo "$out" > get.json
check "get --json parses: attr 7, data 2a000000, decoded 42" \
	test "$(json_get get.json "d['attr'], d['data'], d['decoded']")" = "7 2a000000 42"
run "$VMVARS" append s.json Answer --data "01 02" --guid 11111111-2222-3333-4444-555555555555
run "$VMVARS" get s.json Answer --hex --guid 11111111-2222-3333-4444-555555555555
check "append: data concatenated" test "$out" = 2a0000000102
run "$VMVARS" list s.json --json
echo "$out" > list.json
check "list --json: two variables, names and attributes" \
	test "$(json_get list.json "[(v['name'], v['attributes'], v['size']) for v in d]")" = \
	"[('PlatformLang', 'NV|BS|RT', 3), ('Answer', 'NV|BS|RT', 6)]"
run "$VMVARS" list s.json
check "list text: one line per variable" test "$(echo "$out" | wc -l)" = 2
run "$VMVARS" get s.json Missing
check "get of a missing variable: exit 1, message names file and variable" \
	test "$rc" = 1 -a "$err" = "vmvars: get: s.json: no variable 'Missing'"
cp s.json before.json
run "$VMVARS" set s.json BootOrder --data 010
checkx "set with odd-length hex: exit 2 (usage), file unchanged" 'test "$rc" = 2 && cmp -s s.json before.json'
run "$VMVARS" set s.json BootNext --data 000102
checkx "set BootNext with 3 bytes: VarCheck refuses (exit 1, EFI_INVALID_PARAMETER), file unchanged" 'test "$rc" = 1 && cmp -s s.json before.json && [[ $err == *EFI_INVALID_PARAMETER* ]]'
run "$VMVARS" delete s.json Answer --guid 11111111-2222-3333-4444-555555555555
check "delete: exit 0" test "$rc" = 0 -a "$(json_get s.json "len(d['variables'])")" = 1
run "$VMVARS" delete s.json Answer --guid 11111111-2222-3333-4444-555555555555
checkx "delete again: exit 1, EFI_NOT_FOUND" 'test "$rc" = 1 && [[ $err == *EFI_NOT_FOUND* ]]'
run "$VMVARS" set s.json Foo
check "set without a value: exit 2" test "$rc" = 2
run "$VMVARS" nosuchcommand
check "unknown command: exit 2" test "$rc" = 2
cp s.json before.json
run "$VMVARS" set s.json Foo --u8 1 --guid 11111111-2222-3333-4444-555555555555 -o other.json
checkx "-o writes elsewhere, input unchanged" 'test "$rc" = 0 -a -f other.json && cmp -s s.json before.json'

# ---- --help on every subcommand ----------------------------------------------
helps_ok=true
for c in list get set append delete boot enroll apply sign sb-state sb-mode sb-certs rollover import convert create; do
	"$VMVARS" "$c" --help >h.txt 2>&1 && grep -q "vmvars $c" h.txt || { helps_ok=false; echo "# --help failed: $c"; }
done
check "--help on every subcommand: exit 0 with its name" $helps_ok

# ---- boot entries -----------------------------------------------------------
"$VMVARS" create b.json
run "$VMVARS" boot add b.json --title "file shimx64.efi" --path /EFI/debian/shimx64.efi --optdata quiet
check "boot add: prints Boot0000" test "$rc" = 0 -a "$out" = Boot0000
run "$VMVARS" boot add b.json --title netboot --path http://example.org/boot.iso --next
check "boot add URI --next: Boot0001" test "$rc" = 0 -a "$out" = Boot0001
run "$VMVARS" get b.json Boot0000 --hex
check "load option bytes: ACTIVE, FilePath node with \\EFI\\debian\\shimx64.efi, UCS-2 optdata" \
	test "$out" = "010000003800660069006c00650020007300680069006d007800360034002e006500660069000000040434005c004500460049005c00640065006200690061006e005c007300680069006d007800360034002e0065006600690000007fff0400710075006900650074000000"
run "$VMVARS" boot list b.json --json
echo "$out" > boot.json
check "boot list --json: order, next, edk2 device-path text" \
	test "$(json_get boot.json "d['boot_order'], d['boot_next'], [e['devpath'] for e in d['entries']]")" = \
	"[0, 1] 1 ['\\\\EFI\\\\debian\\\\shimx64.efi', 'Uri(http://example.org/boot.iso)']"
run "$VMVARS" boot order b.json 1,0
check "boot order 1,0: BootOrder bytes 01000000" test "$rc" = 0 -a "$("$VMVARS" get b.json BootOrder --hex)" = 01000000
cp b.json bb.json
run "$VMVARS" boot order b.json 1,7
checkx "boot order naming a missing entry: exit 1, unchanged" 'test "$rc" = 1 && cmp -s b.json bb.json'
run "$VMVARS" boot next b.json 0
check "boot next 0: BootNext 0000" test "$rc" = 0 -a "$("$VMVARS" get b.json BootNext --hex)" = 0000
run "$VMVARS" boot remove b.json 0
checkx "boot remove 0: entry, BootOrder slot and BootNext gone" 'test "$rc" = 0 -a "$("$VMVARS" get b.json BootOrder --hex)" = 0100 && ! "$VMVARS" get b.json BootNext >/dev/null 2>&1'
run "$VMVARS" boot list b.json
check "boot list text" test "$out" = $'Boot0001 *A netboot                          Uri(http://example.org/boot.iso)\nBootOrder: 0001\nBootNext: (none)'
# A real OVMF boot entry (varstore-formats §10.4): PciRoot/Pci/Sata.
# ACTIVE, FilePathListLength 32, "A", ACPI PNP0A03 uid 0, PCI 1f.2, SATA 0/FFFF/0, End.
"$VMVARS" set b.json Boot0005 --data "01000000 2000 41000000 02010c00d041030a00000000 0101060002 1f 03120a000000ffff0000 7fff0400" >/dev/null 2>&1
run "$VMVARS" get b.json Boot0005 --json
echo "$out" > b5.json
check "device path decoded as PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)" \
	test "$(json_get b5.json "d['decoded']['devpath']")" = "PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)"

# ---- Secure Boot ------------------------------------------------------------
if $have_efitools; then
	for k in PK KEK db; do
		openssl req -new -x509 -newkey rsa:2048 -nodes -subj "/CN=vmvars test $k/" \
			-keyout $k.key -out $k.crt -days 3650 -sha256 >/dev/null 2>&1
	done
	openssl x509 -in KEK.crt -outform DER -out KEK.der
	cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 KEK.crt KEK.esl >/dev/null
	cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 db.crt db.esl >/dev/null
	"$VMVARS" create sb.json
	run "$VMVARS" sb-state sb.json --json
	echo "$out" > st.json
	check "sb-state of an empty store: setup, not enforced" \
		test "$(json_get st.json "d['mode'], d['enforced'], d['keys']['PK']")" = "setup False 0"
	run "$VMVARS" sb-state sb.json --require-secure-boot
	check "--require-secure-boot in setup mode: exit 3" test "$rc" = 3
	run "$VMVARS" enroll sb.json PK PK.crt PK.crt
	check "enroll two certificates into PK: refused (exit 1), nothing written" test "$rc" = 1 -a "$(json_get sb.json "len(d['variables'])")" = 0
	run "$VMVARS" enroll sb.json PK PK.crt --owner redhat
	check "enroll PK from PEM (openssl): exit 0" test "$rc" = 0
	run "$VMVARS" get sb.json PK --json
	echo "$out" > pk.json
	check "PK: one X.509 entry, owner OvmfEnrollDefaultKeys, subject from the certificate" \
		test "$(json_get pk.json "len(d['decoded']), d['decoded'][0]['owner'], d['decoded'][0]['cn']")" = \
		"1 a0baa8a3-041d-48a8-bc87-c36d121b5e3d vmvars test PK"
	run "$VMVARS" enroll sb.json KEK KEK.esl
	check "enroll KEK from an ESL made by cert-to-efi-sig-list: exit 0, bytes equal the ESL" \
		test "$rc" = 0 -a "$("$VMVARS" get sb.json KEK --hex)" = "$(od -An -tx1 -v KEK.esl | tr -d ' \n')"
	run "$VMVARS" enroll sb.json KEK KEK.der --owner 11111111-2222-3333-4444-555555555555
	check "enroll the same KEK from DER (append): duplicate skipped, still 1 entry" \
		test "$rc" = 0 -a "$("$VMVARS" get sb.json KEK --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["decoded"]))')" = 1
	run "$VMVARS" sb-state sb.json --json --require-secure-boot
	echo "$out" > st.json
	check "sb-state after PK: user, enforced, exit 0" \
		test "$rc" = 0 -a "$(json_get st.json "d['mode'], d['enforced'], d['keys']")" = "user True {'PK': 1, 'KEK': 1, 'db': 0, 'dbx': 0}"
	check "sb-state certificate facts: status ok, sha256 of the DER" \
		test "$(json_get st.json "[c['status'] for c in d['certificates']], d['certificates'][1]['sha256']")" = \
		"['ok', 'ok'] $(sha256sum KEK.der | cut -d' ' -f1)"
	sign-efi-sig-list -t "2030-01-01 00:00:00" -k KEK.key -c KEK.crt db db.esl db.auth >/dev/null 2>&1
	cp sb.json pre.json
	cp db.auth bad.auth
	printf '\xff' | dd of=bad.auth bs=1 seek=$(( $(stat -c %s db.auth) - 100 )) conv=notrunc 2>/dev/null
	run "$VMVARS" apply sb.json bad.auth --var db
	checkx "apply a tampered .auth: exit 1, EFI_SECURITY_VIOLATION" 'test "$rc" = 1 && [[ $err == *EFI_SECURITY_VIOLATION* ]]'
	check "tampered .auth: store file unchanged byte for byte" cmp -s sb.json pre.json
	run "$VMVARS" apply sb.json db.auth --var db
	check "apply the .auth made by sign-efi-sig-list: exit 0" test "$rc" = 0
	check "db now holds the ESL with the .auth's timestamp" \
		test "$("$VMVARS" get sb.json db --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["time"], d["decoded"][0]["cn"])')" = "2030-01-01 00:00:00 vmvars test db"
	cp sb.json pre.json
	run "$VMVARS" apply sb.json db.auth --var db
	checkx "replaying the same .auth: refused (timestamp not newer), unchanged" 'test "$rc" = 1 && cmp -s sb.json pre.json'
	run "$VMVARS" sign --key KEK.key --cert KEK.crt --time "2030-01-01 00:00:00" db db.esl mine.auth
	check "vmvars sign: byte for byte what sign-efi-sig-list wrote" cmp -s mine.auth db.auth
	sign-efi-sig-list -a -t "2031-01-01 00:00:00" -k KEK.key -c KEK.crt db KEK.esl theirs_a.auth >/dev/null 2>&1
	run "$VMVARS" sign --append --key KEK.key --cert KEK.crt --time "2031-01-01 00:00:00" db KEK.esl mine_a.auth
	check "vmvars sign --append equals sign-efi-sig-list -a" cmp -s mine_a.auth theirs_a.auth
	run "$VMVARS" apply sb.json mine_a.auth --var db --append
	check "vmvars sign output accepted by the library (append to db)" \
		test "$rc" = 0 -a "$("$VMVARS" get sb.json db --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["decoded"]))')" = 2
	run "$VMVARS" sign --key db.key --cert db.crt --time "2032-01-01 00:00:00" db db.esl wrong.auth
	cp sb.json pre.json
	run "$VMVARS" apply sb.json wrong.auth --var db
	checkx "a .auth signed by a key not in KEK: refused, unchanged" 'test "$rc" = 1 && cmp -s sb.json pre.json'
	run "$VMVARS" sb-mode sb.json deployed
	run "$VMVARS" sb-state sb.json --json
	echo "$out" > st.json
	check "sb-mode deployed: sb-state says deployed, enforced" test "$(json_get st.json "d['mode'], d['enforced']")" = "deployed True"
	"$VMVARS" sb-mode sb.json user >/dev/null
	"$VMVARS" set sb.json SecureBootEnable --false >/dev/null 2>&1
	run "$VMVARS" sb-state sb.json --json --require-secure-boot
	echo "$out" > st.json
	check "user mode with SecureBootEnable=0: not enforced, exit 3" \
		test "$rc" = 3 -a "$(json_get st.json "d['mode'], d['enforced'], d['reason']")" = "user False SecureBootEnable is 0"
	"$VMVARS" create au.json
	run "$VMVARS" sb-mode au.json audit
	run "$VMVARS" sb-state au.json --json
	echo "$out" > st.json
	check "audit mode: sb-state says audit, not enforced" test "$(json_get st.json "d['mode'], d['enforced']")" = "audit False"
	run "$VMVARS" sb-mode au.json user
	check "sb-mode user without PK: refused (exit 1)" test "$rc" = 1
	openssl req -new -x509 -newkey rsa:2048 -nodes -subj "/CN=Microsoft Corporation KEK CA 2011/" \
		-keyout ms.key -out ms.crt -days 30 >/dev/null 2>&1
	"$VMVARS" enroll sb.json KEK ms.crt --owner ms >/dev/null 2>&1
	run "$VMVARS" sb-state sb.json --json
	echo "$out" > st.json
	# Issue #16: keys are known by fingerprint, so a self-signed certificate
	# merely named like Microsoft's KEK CA 2011 is listed (and its expiry
	# judged) but not counted as Microsoft's.
	check "sb-state: a self-signed 'Microsoft Corporation KEK CA 2011' is listed but not counted as Microsoft's" \
		test "$(json_get st.json "d['microsoft_2011_cas'], d['microsoft_2023_cas'], [c['status'] for c in d['certificates'] if 'Microsoft' in c['cn']], [c['present'] for c in d['microsoft_cas']], d['verdict']")" = \
		"[] [] ['expiring'] [False, False, False, False, False, False, False] secure-boot-off"
	run "$VMVARS" enroll sb.json db --hash e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 --replace
	check "enroll --hash --replace: one SHA-256 entry" \
		test "$rc" = 0 -a "$("$VMVARS" get sb.json db --json | python3 -c 'import json,sys; e=json.load(sys.stdin)["decoded"]; print(len(e), e[0]["type"])')" = "1 sha256"
	run "$VMVARS" enroll sb.json db nonexistent.pem
	checkx "enroll from a missing file: exit 1, error names it" 'test "$rc" = 1 && [[ $err == *nonexistent.pem* ]]'
else
	for i in $(seq 1 25); do skip "Secure Boot case $i" "openssl/efitools not installed"; done
fi

# ---- convert ----------------------------------------------------------------
run "$VMVARS" convert s.json s.fd
if [ "$rc" = 0 ]; then
	check "convert JSON -> fd: a flash image of the 4 MiB layout (the size of OVMF_VARS_4M.fd, 540672)" test "$(stat -c %s s.fd)" = 540672
	run "$VMVARS" convert s.fd back.json
	check "convert fd -> JSON: exit 0" test "$rc" = 0
	check "JSON -> fd -> JSON: variables identical" \
		test "$(json_get back.json "d['variables']")" = "$(json_get s.json "d['variables']")"
	run "$VMVARS" get s.fd PlatformLang --hex
	check "get reads the fd image directly" test "$out" = 656e00
else
	for i in 1 2 3 4; do skip "convert case $i" "fd format not available: $err"; done
fi

# ---- bad input ----------------------------------------------------------------
run "$VMVARS" list missing.json
checkx "missing file: exit 1, error names the file" 'test "$rc" = 1 && [[ $err == *missing.json* ]]'
printf '{"version": 2, "variables": [ {"guid": "x"' > corrupt.json
cp corrupt.json corrupt.orig
run "$VMVARS" set corrupt.json Foo --u8 1
checkx "corrupt JSON: exit 1, error names the file, nothing written" 'test "$rc" = 1 && [[ $err == *corrupt.json* ]] && cmp -s corrupt.json corrupt.orig'
head -c 4096 /dev/urandom > junk.bin
run "$VMVARS" list junk.bin
checkx "unrecognised bytes: exit 1, error names the file" 'test "$rc" = 1 && [[ $err == *junk.bin* ]]'
run "$VMVARS" list s.json --bogus
check "unknown option: exit 2" test "$rc" = 2
run "$VMVARS" get s.json
check "missing argument: exit 2" test "$rc" = 2

# ---- issue #5 gaps: sb-certs (--extract-certs), enroll --from (distro keys), import (--set-json)
MS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
if [ -r "$MS" ] && command -v openssl >/dev/null; then
	mkdir certs
	run "$VMVARS" sb-certs "$MS" --out-dir certs
	check "sb-certs of Debian's ms template: exit 0, the 5 PEM paths of PK, KEK, db in order" \
		test "$rc" = 0 -a "$(sed 's/-[0-9a-f]*\.pem$//' out.txt | tr '\n' ' ')" = "certs/PK-0 certs/KEK-0 certs/KEK-1 certs/db-0 certs/db-1 "
	fps=""
	while read -r f; do
		b=${f##*/}
		fp=$(openssl x509 -noout -fingerprint -sha256 -in "$f" 2>/dev/null | sed 's/.*=//; s/://g' | tr A-F a-f)
		fps="$fps ${b%%-*} $fp"
		[[ $b == *-${fp:0:16}.pem ]] || fps="$fps name-mismatch"
	done < out.txt
	want=$("$VMVARS" sb-state "$MS" --json | python3 -c 'import json,sys; print("".join(" %s %s" % (c["variable"], c["sha256"]) for c in json.load(sys.stdin)["certificates"]))')
	checkx "each PEM parses with openssl x509 and its SHA-256 (and name) matches sb-state's" \
		'test -n "$want" && test "$fps" = "$want"'
	run "$VMVARS" sb-certs "$MS" KEK --out-dir certs
	check "sb-certs FILE KEK: exactly KEK-0 and KEK-1" \
		test "$rc" = 0 -a "$out" = $'certs/KEK-0-5fb05ed84c5170d5.pem\ncerts/KEK-1-a1117f516a32cefc.pem'
	run "$VMVARS" sb-certs s.json
	check "sb-certs of a store without keys: exit 0, nothing printed" test "$rc" = 0 -a -z "$out"
	run "$VMVARS" sb-certs "$MS" PKK
	check "sb-certs with an unknown DATABASE: exit 2" test "$rc" = 2
	run "$VMVARS" sb-certs "$MS" --out-dir nonexistent-dir
	checkx "sb-certs into a missing directory: exit 1, error names the path" \
		'test "$rc" = 1 && [[ $err == *nonexistent-dir/PK-0-* ]]'

	"$VMVARS" create from.json
	run "$VMVARS" enroll from.json --from "$MS"
	same=true
	for d in PK KEK db dbx; do
		a=$("$VMVARS" get from.json "$d" --hex); b=$("$VMVARS" get "$MS" "$d" --hex)
		[ -n "$b" ] && [ "$a" = "$b" ] || same=false
	done
	check "enroll --from the ms template: exit 0, PK/KEK/db/dbx bytes equal the template's" \
		test "$rc" = 0 -a -z "$out" -a "$same" = true
	check "enroll --from: the store is in User mode, enforced" \
		test "$("$VMVARS" sb-state from.json --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["mode"], d["enforced"])')" = "user True"
	"$VMVARS" create fromdb.json
	run "$VMVARS" enroll fromdb.json --from "$MS" db
	"$VMVARS" get fromdb.json KEK --hex >/dev/null 2>&1; kek_rc=$?
	check "enroll --from TEMPLATE db: db equals the template's, KEK not copied" \
		test "$rc" = 0 -a "$("$VMVARS" get fromdb.json db --hex)" = "$("$VMVARS" get "$MS" db --hex)" -a "$kek_rc" = 1
	cp fromdb.json fromdb.orig
	run "$VMVARS" enroll fromdb.json --from s.json
	checkx "enroll --from a store without keys: exit 1, file unchanged" \
		'test "$rc" = 1 && [[ $err == *"holds no PK, KEK, db or dbx"* ]] && cmp -s fromdb.json fromdb.orig'
	run "$VMVARS" enroll fromdb.json --from "$MS" KEK --owner ms
	check "enroll --from with --owner: exit 2" test "$rc" = 2
	"$VMVARS" create whole.json
	run "$VMVARS" import whole.json "$MS"
	same=true
	for d in PK KEK db dbx Boot0001 PlatformLang; do
		a=$("$VMVARS" get whole.json "$d" --hex); b=$("$VMVARS" get "$MS" "$d" --hex)
		[ -n "$b" ] && [ "$a" = "$b" ] || same=false
	done
	check "import of the whole ms template (VendorKeysNv NV|BS|AT replaced): exit 0, keys and boot entries equal, User mode" \
		test "$rc" = 0 -a "$same" = true -a "$("$VMVARS" sb-state whole.json --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mode"])')" = user
else
	for i in $(seq 1 12); do skip "sb-certs/enroll --from case $i" "no $MS or openssl"; done
fi

"$VMVARS" create isrc.json
"$VMVARS" set isrc.json PlatformLang --string en
"$VMVARS" set isrc.json Answer --u32 42 --guid 11111111-2222-3333-4444-555555555555 --attr NV,BS,RT
"$VMVARS" create idst.json
"$VMVARS" set idst.json Answer --u8 1 --guid 11111111-2222-3333-4444-555555555555 --attr NV,BS
"$VMVARS" set idst.json Keep --u8 7 --guid 11111111-2222-3333-4444-555555555555
run "$VMVARS" import idst.json isrc.json
check "import JSON: exit 0, values and attributes of SOURCE (Answer replaced NV|BS -> NV|BS|RT), others kept" \
	test "$rc" = 0 -a -z "$out" -a "$(json_get idst.json "sorted((v['name'], v['attr'], v['data']) for v in d['variables'])")" = "[('Answer', 7, '2a000000'), ('Keep', 3, '07'), ('PlatformLang', 7, '656e00')]"
"$VMVARS" create ifd.json
"$VMVARS" convert ifd.json ifd.fd >/dev/null 2>&1
run "$VMVARS" import ifd.fd isrc.json
if [ "$rc" = 0 ] && "$VMVARS" convert ifd.fd iback.json >/dev/null 2>&1; then
	check "import round trip JSON -> fd -> JSON: variables identical" \
		test "$(json_get iback.json "sorted((v['guid'], v['name'], v['attr'], v['data']) for v in d['variables'])")" = "$(json_get isrc.json "sorted((v['guid'], v['name'], v['attr'], v['data']) for v in d['variables'])")"
else
	notok "import round trip JSON -> fd -> JSON: $err"
fi
printf '{"version": 2, "variables": [ {"guid": "11111111-2222-3333-4444-555555555555", "name": "Good", "attr": 7, "data": "01"}, {"guid": "d719b2cb-3d3a-4596-a3bc-dad00e67656f", "name": "db", "attr": 39, "data": "0102"} ]}' > ibad.json
cp idst.json idst.orig
run "$VMVARS" import idst.json ibad.json
checkx "import with a malformed db: exit 1, error names db, file unchanged byte for byte" \
	'test "$rc" = 1 && [[ $err == *"db EfiImageSecurityDatabase refused: EFI_INVALID_PARAMETER"* ]] && cmp -s idst.json idst.orig'
run "$VMVARS" import idst.json
check "import without SOURCE: exit 2" test "$rc" = 2

# fd layouts from scratch (--layout)
run "$VMVARS" create lay-arm.fd --layout armvirt
check "create --layout armvirt: exit 0, 786432-byte ArmVirt image that lists empty" \
	test "$rc" = 0 -a "$(stat -c %s lay-arm.fd)" = 786432 -a -z "$("$VMVARS" list lay-arm.fd)"
run "$VMVARS" create lay.json --layout armvirt
check "create --layout with JSON output: exit 2" test "$rc" = 2 -a ! -e lay.json
if [ -r /usr/share/OVMF/OVMF_VARS.fd ]; then
	run "$VMVARS" create lay-2m.fd --layout ovmf-2m
	checkx "create --layout ovmf-2m: byte-identical to Debian's empty OVMF_VARS.fd" \
		'test "$rc" = 0 && cmp -s lay-2m.fd /usr/share/OVMF/OVMF_VARS.fd'
else
	skip "create --layout ovmf-2m" "no /usr/share/OVMF/OVMF_VARS.fd"
fi

# ---- one writer per store (src/backend/store_lock.h) ------------------------
# hold_lock LOCKFILE RECORD: holds LOCKFILE's OFD write lock, as vmvarsd or
# another vmvars does, with RECORD ("PID PROGRAM\n") in it, until killed.
hold_lock() {
	python3 -c '
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
os.ftruncate(fd, 0)
os.write(fd, sys.argv[2].encode())
print("held", flush=True)
time.sleep(60)' "$1" "$2" >held.txt &
	holder=$!
	for _ in $(seq 200); do grep -q held held.txt 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
release_lock() { kill "$holder"; wait "$holder" 2>/dev/null; rm -f held.txt; }
run "$VMVARS" create lk.json
check "create: the lock file lk.json.lock is left beside the store" test "$rc" = 0 -a -f lk.json.lock
"$VMVARS" set lk.json Kept --u8 1 --guid 11111111-2222-3333-4444-555555555555
cp lk.json lk.orig
if hold_lock lk.json.lock $'4242 vmvars\n'; then
	run "$VMVARS" set lk.json New --u8 2 --guid 11111111-2222-3333-4444-555555555555
	checkx "set while another vmvars holds the store: exit 1, names it, file unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: set: lk.json is in use by vmvars (pid 4242); wait for it to finish" && cmp -s lk.json lk.orig'
	run "$VMVARS" boot add lk.json --title t --path /EFI/t.efi
	checkx "boot add while held: exit 1, same message, file unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: boot: lk.json is in use by vmvars (pid 4242); wait for it to finish" && cmp -s lk.json lk.orig'
	run "$VMVARS" convert s.json lk.json
	checkx "convert onto a held store: exit 1, file unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: convert: lk.json is in use by vmvars (pid 4242); wait for it to finish" && cmp -s lk.json lk.orig'
	run "$VMVARS" list lk.json
	checkx "list and get while held: reads take no lock (exit 0)" \
		'test "$rc" = 0 && [[ $out == Kept* ]] && test "$("$VMVARS" get lk.json Kept --hex)" = 01'
	release_lock
else
	notok "could not hold the lock of lk.json"; n=$((n + 3))
	kill "$holder" 2>/dev/null
fi
if hold_lock lk.json.lock ''; then
	run "$VMVARS" delete lk.json Kept --guid 11111111-2222-3333-4444-555555555555
	checkx "delete while a holder without a record holds it: exit 1, says so, file unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: delete: lk.json is in use by another process; stop it, or wait for it to finish" && cmp -s lk.json lk.orig'
	release_lock
else
	notok "could not hold the lock of lk.json"
fi
run "$VMVARS" set lk.json New --u8 2 --guid 11111111-2222-3333-4444-555555555555
check "set once the holder has gone: exit 0" test "$rc" = 0 -a "$("$VMVARS" get lk.json New --hex)" = 02
# Root editing a store that belongs to vmvarsd's user (the unit's
# User=vmvars): the new file and the lock file stay that user's, or the
# daemon could not open its own store on the next start.
if [ "$(id -u)" = 0 ]; then
	printf '{"version": 2, "variables": []}' >own.json
	chown 65534:65534 own.json && chmod 600 own.json
	run "$VMVARS" set own.json Mine --u8 1 --guid 11111111-2222-3333-4444-555555555555
	check "root edits a store owned by uid 65534: store and lock file stay 65534's, mode 0600" \
		test "$rc" = 0 -a "$(stat -c %u:%g:%a own.json)" = 65534:65534:600 -a "$(stat -c %u:%g:%a own.json.lock)" = 65534:65534:600
else
	skip "root edits a store owned by another user" "not root"
fi

# ---- writes that keep the file's identity (issue #17, item 1) ---------------
# Every write goes through one atomic replace (src/core/file_replace.h): a
# symlink is written through, owner/group/mode/SELinux label are kept, and
# an immutable, read-only or hard-linked store is refused (disk unchanged)
# unless --force.  convert never overwrites without --force, never its input.
FG=11111111-2222-3333-4444-555555555555
mkdir fid && cp lk.json fid/base.json && cd fid || exit 1
cp base.json real.json; ln -s real.json link.json
"$VMVARS" create real.fd >/dev/null 2>&1; ln -s real.fd link.fd
"$VMVARS" convert real.json real.aws >/dev/null 2>&1; ln -s real.aws link.aws
for f in json fd aws; do
	run "$VMVARS" set link.$f Thru --u8 7 --guid $FG
	checkx "set through a symlink ($f): exit 0, the link kept, its target written, the lock beside the target" \
		'test "$rc" = 0 -a -L link.$f -a "$(readlink link.$f)" = real.$f && test "$("$VMVARS" get real.$f Thru --guid $FG --hex)" = 07 -a -e real.$f.lock -a ! -e link.$f.lock'
done
ln -s nowhere.json dang.json
run "$VMVARS" convert real.json dang.json
checkx "convert onto a dangling symlink: exit 1, says so, nothing created" \
	'test "$rc" = 1 -a "$err" = "vmvars: convert: dang.json: is a symlink to nowhere.json, which does not exist; nothing written" -a ! -e nowhere.json'

# Read-only: no write bit at all (0444), refused even for root.
cp base.json ro.json; chmod 444 ro.json; cp ro.json ro.orig
run "$VMVARS" set ro.json A --u8 3 --guid $FG
checkx "set on a 0444 store: exit 1, exact message, file unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: ro.json: is read-only (mode 0444); nothing written (use --force to write it anyway; its mode is kept)" && cmp -s ro.json ro.orig'
run "$VMVARS" set ro.json A --u8 3 --guid $FG --force
checkx "set --force on a 0444 store: exit 0, written, still 0444" \
	'test "$rc" = 0 -a "$(stat -c %a ro.json)" = 444 && test "$("$VMVARS" get ro.json A --guid $FG --hex)" = 03'

# Hard links: replacing the name would split them.
cp base.json hl.json; ln hl.json hl2.json; cp hl.json hl.orig
run "$VMVARS" set hl.json A --u8 4 --guid $FG
checkx "set on a store with 2 hard links: exit 1, exact message, both names unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: hl.json: has 2 hard links; replacing it would leave the other names with the old content; nothing written (use --force to replace this name only)" && cmp -s hl.json hl.orig && cmp -s hl2.json hl.orig && test "$(stat -c %h hl.json)" = 2'
run "$VMVARS" set hl.json A --u8 4 --guid $FG --force
checkx "set --force on it: this name written (1 link), the other keeps the old content" \
	'test "$rc" = 0 -a "$(stat -c %h hl.json)" = 1 && cmp -s hl2.json hl.orig && test "$("$VMVARS" get hl.json A --guid $FG --hex)" = 04'

# convert: an existing OUT only with --force; IN itself never.
cp real.fd out.fd; cp out.fd out.orig
run "$VMVARS" convert real.json out.fd
checkx "convert onto an existing file: exit 1, exact message, file unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: convert: out.fd: exists; nothing written (use --force to replace it)" && cmp -s out.fd out.orig'
run "$VMVARS" convert real.json out.fd --force
check "convert --force onto it: exit 0, replaced" test "$rc" = 0 -a "$("$VMVARS" get out.fd Thru --guid $FG --hex)" = 07
cp real.fd same.fd; cp same.fd same.orig; ln -s same.fd same-sym.fd; ln same.fd same-hard.fd
for o in same.fd same-sym.fd same-hard.fd; do
	run "$VMVARS" convert same.fd $o --to json --force
	checkx "convert same.fd $o --to json --force: the same file: exit 1, exact message, unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: convert: same.fd and $o are the same file; nothing written (convert to a new file, then move it over the old one)" && cmp -s same.fd same.orig'
done

# As root: owner, group, mode and SELinux label kept; immutable refused.
if [ "$(id -u)" = 0 ]; then
	for f in json fd aws; do
		chown 65534:65534 real.$f && chmod 640 real.$f
		run "$VMVARS" set link.$f Own --u8 1 --guid $FG
		check "root sets through a symlink to a store of uid 65534 mode 0640 ($f): owner, group and mode kept" \
			test "$rc" = 0 -a "$(stat -c %u:%g:%a real.$f)" = 65534:65534:640
	done
	label='system_u:object_r:svirt_image_t:s0'
	if python3 -c "import os,sys; os.setxattr('real.fd', 'security.selinux', sys.argv[1].encode() + b'\\0')" "$label" 2>/dev/null; then
		run "$VMVARS" set real.fd Label --u8 1 --guid $FG
		check "set on a store with an SELinux label: the label (security.selinux) kept" \
			test "$rc" = 0 -a "$(python3 -c "import os; print(os.getxattr('real.fd', 'security.selinux').rstrip(b'\\0').decode())")" = "$label"
	else
		notok "cannot set security.selinux on a file in $T (the label test needs it)"
	fi
	# A caller who may not write the file (root's 0644 file, run as nobody).
	cp base.json nr.json; chmod 644 nr.json; cp nr.json nr.orig; chmod 755 "$T"; chmod 777 .
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$VMVARS" set nr.json A --u8 5 --guid $FG
	checkx "uid 65534 sets root's 0644 store in a directory it may write: exit 1, exact message, unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: set: nr.json: is read-only (mode 0644, not writable by us); nothing written (use --force to write it anyway; its mode is kept)" && cmp -s nr.json nr.orig'
	chmod 755 .
	cp base.json imm.json; cp imm.json imm.orig
	if chattr +i imm.json 2>/dev/null; then
		run "$VMVARS" set imm.json A --u8 6 --guid $FG
		checkx "set on an immutable store (chattr +i): exit 1, exact message, unchanged" \
			'test "$rc" = 1 -a "$err" = "vmvars: set: imm.json: is immutable (chattr +i); nothing written (use --force to clear the flag, write and set it again)" && cmp -s imm.json imm.orig'
		run "$VMVARS" set imm.json A --u8 6 --guid $FG --force
		checkx "set --force on it: exit 0, written, immutable again" \
			'test "$rc" = 0 && lsattr imm.json | cut -d" " -f1 | grep -q i && test "$("$VMVARS" get imm.json A --guid $FG --hex)" = 06'
		chattr -i imm.json
	else
		skip "set on an immutable store" "the filesystem of $T does not support chattr +i (FS_IOC_SETFLAGS)"
		skip "set --force on an immutable store" "the filesystem of $T does not support chattr +i"
	fi
else
	for i in 1 2 3 4 5 6 7; do skip "file identity as root, case $i" "not root"; done
fi
cd ..

# ---- every refusal explained (issue #17, item 5) -----------------------------
# The store says which rule refused a write (vv_store_last_refusal); the
# file is unchanged.
"$VMVARS" create why.fd >/dev/null 2>&1; cp why.fd why.orig
run "$VMVARS" set why.fd Foo --data 01
checkx "set of a name UEFI does not define, no --guid: the namespace rule and the --guid advice, unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: why.fd: set Foo: refused by SetVariable (EFI_INVALID_PARAMETER: the UEFI specification defines no variable of this name in the EFI_GLOBAL_VARIABLE namespace, which takes only the names it defines (edk2 VarCheckUefiLib)); without --guid a name goes to EFI_GLOBAL_VARIABLE (global): give your own variable a vendor namespace with --guid GUID; why.fd not written" && cmp -s why.fd why.orig'
run "$VMVARS" set why.fd BootOrder --data 010203
checkx "a BootOrder of 3 bytes: says it is an array of UINT16, unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: why.fd: set BootOrder: refused by SetVariable (EFI_INVALID_PARAMETER: its value is an array of 2-byte UINT16 option numbers; 3 bytes is not a multiple of 2); why.fd not written" && cmp -s why.fd why.orig'
run "$VMVARS" set why.fd Timeout --u32 5
checkx "a Timeout of 4 bytes: says it is exactly 2 bytes, unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: why.fd: set Timeout: refused by SetVariable (EFI_INVALID_PARAMETER: its value must be exactly 2 bytes (its VarCheck property: a UINT16); got 4); why.fd not written" && cmp -s why.fd why.orig'
run "$VMVARS" set why.fd SecureBoot --u8 1
checkx "a host write of the derived SecureBoot: refused (EFI_WRITE_PROTECTED), says why, unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: why.fd: set SecureBoot: refused by SetVariable (EFI_WRITE_PROTECTED: derived by the Secure Boot service from PK and its mode; it cannot be written: enroll or delete PK, or change the mode (vmvars sb-mode)); why.fd not written" && cmp -s why.fd why.orig'

# Firmware: machine aliases as libvirt resolves them (Debian's descriptors,
# package ovmf), stateless host-uefi-vars, a mismatched OVMF pair.
run "$VMVARS" firmware select --arch x86_64 --machine q35
r1=$out
run "$VMVARS" firmware select --arch x86_64 --machine pc
check "firmware select --machine q35 / pc: Debian's Secure Boot build for q35, the plain one for pc" \
	test "$r1 $out" = "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json /usr/share/qemu/firmware/60-edk2-x86_64.json"
mkdir fwd fwvm
printf '{"interface-types": ["uefi"], "mapping": {"device": "flash", "mode": "stateless", "executable": {"filename": "/c.fd", "format": "raw"}}, "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}], "features": ["host-uefi-vars"]}' >fwd/50-qemuvars.json
run "$VMVARS" firmware instantiate --feature host-uefi-vars --mode stateless --vm v1 --dir fwvm --firmware-dir fwd --json
checkx "instantiate --feature host-uefi-vars --mode stateless: kind host-uefi-vars-stateless, the device without jsonfile, no file written" \
	'test "$rc" = 0 -a "$(echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d[\"kind\"], d[\"created\"], d[\"qemu-args\"][-2:])")" = "host-uefi-vars-stateless None ['"'"'-device'"'"', '"'"'uefi-vars-x64'"'"']" -a -z "$(ls fwvm)"'
truncate -s 3653632 fwd/CODE_4M.fd; truncate -s 131072 fwd/VARS_2M.fd
printf '{"interface-types": ["uefi"], "mapping": {"device": "flash", "executable": {"filename": "%s/fwd/CODE_4M.fd", "format": "raw"}, "nvram-template": {"filename": "%s/fwd/VARS_2M.fd", "format": "raw"}}, "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}], "features": []}' "$PWD" "$PWD" >fwd/60-mix.json
run "$VMVARS" firmware show 60-mix --firmware-dir fwd
checkx "firmware show: a 4 MiB code with a 2 MiB varstore is flagged (every write would be lost)" \
	'[[ $out == *"warning:     fwd/60-mix.json: mapping: executable $PWD/fwd/CODE_4M.fd (3653632 bytes) and NVRAM template $PWD/fwd/VARS_2M.fd (131072 bytes) make 3784704 bytes, not the 2 or 4 MiB flash OVMF is built for: the firmware would find no variable store in this template and lose every variable write"* ]]'
run "$VMVARS" firmware instantiate --descriptor 60-mix --vm v2 --dir fwvm --firmware-dir fwd
checkx "instantiate of that pair: exit 1, says why, nothing written" \
	'test "$rc" = 1 && [[ $err == *"lose every variable write"*"; nothing written (--force instantiates it anyway)" ]] && test -z "$(ls fwvm)"'

# Captures (pcap, link type 302): a reset decodes; another link type is refused.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\x00\x00\x01\x00\x2e\x01\x00\x00\x01\0\0\0\x02\0\0\0\x04\0\0\0\x04\0\0\0\x01\0\0\0' >reset.pcap
run "$VMVARS" pcap decode reset.pcap
check "pcap decode: a capture of one VM reset" test "$rc" = 0 -a "$out" = "0     reset   VM reset"
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\x00\x00\x01\x00\x01\x00\x00\x00' >eth.pcap
run "$VMVARS" pcap decode eth.pcap
check "pcap decode of an Ethernet capture: exit 1, the offset and the reason" \
	test "$rc" = 1 -a "$err" = "vmvars: pcap: eth.pcap: byte 20: link type 1, not 302 (LINKTYPE_EDK2_MM: edk2 MM traffic as QEMU's uefi-vars pcapfile= writes it)"

# ---- journaled stores (vmvarsd's vars.json.journal; R3) ---------------------
# A journal holds acknowledged writes that vars.json does not until vmvarsd
# compacts; after a kill -9 it is the truth.  rec NAME=HEX | -NAME | torn |
# bad:NAME=HEX ... prints journal records (CRC-32C framed, as
# src/backend/journal_backend.c writes them) in namespace $JG.
JG=11111111-2222-3333-4444-555555555555
rec() {
	python3 - "$JG" "$@" <<'PY'
import sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xffffffff
g = sys.argv[1]
for a in sys.argv[2:]:
    flip = 0
    if a == "torn":
        sys.stdout.write('0badc0de {"op":"put","gu')
        continue
    if a.startswith("bad:"):
        a, flip = a[4:], 1
    if a.startswith("-"):
        j = '{"op":"delete","guid":"%s","name":"%s"}' % (g, a[1:])
    else:
        n, d = a.split("=")
        j = '{"op":"put","guid":"%s","name":"%s","attr":7,"data":"%s"}' % (g, n, d)
    sys.stdout.write("%08x %s\n" % (crc32c(j.encode()) ^ flip, j))
PY
}
vars_of() { json_get "$1" "sorted((v['name'], v['data']) for v in d['variables'])"; }
mkstore() { printf '{"version": 2, "variables": [%s]}' "$2" >"$1"; }
jv() { printf '{"guid": "%s", "name": "%s", "attr": 7, "data": "%s"}' "$JG" "$1" "$2"; }

mkstore j.json "$(jv Old 01), $(jv Gone 05)"
rec Old=02 New=03 -Gone >j.json.journal
cp j.json j.orig; cp j.json.journal j.jorig
run "$VMVARS" list j.json --json
echo "$out" >jl.json
check "list of a store with a journal: the journal replayed (Old, New; Gone deleted by it)" \
	test "$rc" = 0 -a "$(json_get jl.json "[(v['name'], v['size']) for v in d]")" = "[('Old', 1), ('New', 1)]"
run "$VMVARS" get j.json Old --hex --guid $JG
check "get: the journal's value (02), not the snapshot's (01)" test "$rc" = 0 -a "$out" = 02 -a -z "$err"
run "$VMVARS" get j.json Gone --guid $JG
check "get of a variable the journal deleted: not found" test "$rc" = 1 -a "$err" = "vmvars: get: j.json: no variable 'Gone'"
checkx "reads change nothing: snapshot and journal byte for byte, no lock file" \
	'cmp -s j.json j.orig && cmp -s j.json.journal j.jorig && test ! -e j.json.lock'
run "$VMVARS" convert j.json jconv.json
check "convert reads the journal too" test "$rc" = 0 -a "$(vars_of jconv.json)" = "[('New', '03'), ('Old', '02')]"
chmod 640 j.json
run "$VMVARS" set j.json Old --data 09 --guid $JG --attr NV,BS,RT
check "set on a journaled store: exit 0, nothing printed" test "$rc" = 0 -a -z "$out" -a -z "$err"
check "after set: vars.json holds the journal's records and the edit" \
	test "$(vars_of j.json)" = "[('New', '03'), ('Old', '09')]"
check "after set: the journal is empty (0 bytes, still there)" test -f j.json.journal -a ! -s j.json.journal
check "after set: vars.json keeps its mode (640)" test "$(stat -c %a j.json)" = 640
mkstore d.json "$(jv Keep 01)"
rec Del=07 >d.json.journal
run "$VMVARS" delete d.json Del --guid $JG
check "delete of a variable only the journal holds: exit 0" test "$rc" = 0
checkx "after delete: gone from vars.json, journal empty, the rest kept" \
	'test "$(vars_of d.json)" = "[('"'Keep'"', '"'01'"')]" -a ! -s d.json.journal'
run "$VMVARS" get d.json Del --guid $JG
check "the deleted variable stays deleted" test "$rc" = 1

mkstore t.json ""
{ rec T=0a; rec torn; } >t.json.journal
run "$VMVARS" list t.json
check "torn last record: dropped and reported, the good record listed" \
	test "$rc" = 0 -a "$err" = "vmvars: warning: t.json.journal: torn last record (24 bytes at byte 100) dropped: it was never acknowledged" -a "$(echo "$out" | cut -d' ' -f1)" = T
check "a read leaves the torn tail (its writer may still be appending)" test "$(stat -c %s t.json.journal)" = 124
run "$VMVARS" set t.json X --u8 1 --guid $JG
checkx "set with a torn tail: same report, journal emptied, T and X in vars.json" \
	'test "$rc" = 0 -a "$err" = "vmvars: warning: t.json.journal: torn last record (24 bytes at byte 100) dropped: it was never acknowledged" -a ! -s t.json.journal && test "$(vars_of t.json)" = "[('"'T'"', '"'0a'"'), ('"'X'"', '"'01'"')]"'

mkstore c.json "$(jv A 01)"
rec bad:B=02 C=03 >c.json.journal
cp c.json c.orig; cp c.json.journal c.jorig
run "$VMVARS" list c.json
check "a bad record before the last: list fails naming the journal and the offset" \
	test "$rc" = 1 -a "$err" = "vmvars: list: c.json.journal: record at byte 0: CRC-32C mismatch"
run "$VMVARS" set c.json A --u8 2 --guid $JG
checkx "set on a corrupt journal: refused, snapshot and journal unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: c.json.journal: record at byte 0: CRC-32C mismatch" && cmp -s c.json c.orig && cmp -s c.json.journal c.jorig'

mkstore l.json "$(jv A 01)"
rec A=02 >l.target
ln -s l.target l.json.journal
cp l.json l.orig
run "$VMVARS" set l.json A --u8 3 --guid $JG
checkx "a symlinked journal: refused (exact message), nothing written, the link target intact" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: l.json.journal: a symbolic link; a store'"'"'s journal must be a regular file" && cmp -s l.json l.orig && test "$(stat -c %s l.target)" = 100'
mkstore h.json "$(jv A 01)"
rec A=02 >h.json.journal
ln h.json.journal h.link
cp h.json h.orig; cp h.json.journal h.jorig
run "$VMVARS" set h.json A --u8 3 --guid $JG
checkx "a journal with two links: refused, nothing written" \
	'test "$rc" = 1 -a "$err" = "vmvars: set: h.json.journal: has 2 links; refusing to empty it in place (nothing written)" && cmp -s h.json h.orig && cmp -s h.json.journal h.jorig'

rec A=01 >o.json.journal
run "$VMVARS" get o.json A --hex --guid $JG
check "a journal without vars.json (a daemon that never compacted): read" test "$rc" = 0 -a "$out" = 01
run "$VMVARS" set o.json B --u8 2 --guid $JG
checkx "set on it: vars.json created with both, journal empty" \
	'test "$rc" = 0 -a ! -s o.json.journal && test "$(vars_of o.json)" = "[('"'A'"', '"'01'"'), ('"'B'"', '"'02'"')]"'

mkstore k.json "$(jv Z 01)"
rec Z=02 Y=03 >k.json.journal
run "$VMVARS" convert jconv.json k.json
checkx "convert onto a journaled store without --force: refused, snapshot and journal unchanged" \
	'test "$rc" = 1 -a "$err" = "vmvars: convert: k.json: exists; nothing written (use --force to replace it)" && test "$(vars_of k.json)" = "[('"'Z'"', '"'01'"')]" -a -s k.json.journal'
run "$VMVARS" convert jconv.json k.json --force
checkx "convert --force onto a journaled store: its journal folded away, exactly the source's variables" \
	'test "$rc" = 0 -a ! -s k.json.journal && test "$(vars_of k.json)" = "$(vars_of jconv.json)"'
if hold_lock k.json.lock $'4242 vmvars\n'; then
	rec Z=04 >k.json.journal; cp k.json k.orig; cp k.json.journal k.jorig
	run "$VMVARS" set k.json Z --u8 5 --guid $JG
	checkx "set on a held journaled store: refused, snapshot and journal unchanged" \
		'test "$rc" = 1 -a "$err" = "vmvars: set: k.json is in use by vmvars (pid 4242); wait for it to finish" && cmp -s k.json k.orig && cmp -s k.json.journal k.jorig'
	release_lock
else
	notok "could not hold the lock of k.json"
fi

# The reproducer of R3 with a real vmvarsd: acknowledged writes through
# the management API, kill -9, edits with vmvars, a new vmvarsd.
VMVARSD=${VMVARSD:-}
mgmt() { python3 - "$D/mgmt.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(sys.argv[2].encode() + b"\n"); print(s.makefile().readline().strip())
PY
}
start_daemon() {
	# Sanitizer builds: LeakSanitizer's exit-time check cannot run under
	# the daemon's seccomp filter and spins forever (tests/test_daemon.c
	# spawns vmvarsd the same way).
	ASAN_OPTIONS=detect_leaks=0 "$VMVARSD" --state-dir "$D" >>"$T/vmvarsd.log" 2>&1 &
	dpid=$!
	for _ in $(seq 200); do
		[ -S "$D/mgmt.sock" ] && mgmt '{"cmd":"version"}' >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
mset() { mgmt "{\"cmd\":\"set\",\"name\":\"$1\",\"guid\":\"$JG\",\"attributes\":\"NV|BS|RT\",\"data\":\"$2\"}"; }
mget() { mgmt "{\"cmd\":\"get\",\"name\":\"$1\",\"guid\":\"$JG\"}"; }
D=$T/vm
mkdir "$D"
if [ -x "$VMVARSD" ] && start_daemon; then
	kill -TERM $dpid; wait $dpid 2>/dev/null
	start_daemon
	mset Revoked 01 >/dev/null; mset Doomed 02 >/dev/null
	kill -9 $dpid; wait $dpid 2>/dev/null
	check "vmvarsd killed: its journal holds the writes" test -s "$D/vars.json.journal"
	run "$VMVARS" get "$D/vars.json" Revoked --hex --guid $JG
	check "vmvars get after the crash: the acknowledged value (01)" test "$rc" = 0 -a "$out" = 01
	run "$VMVARS" set "$D/vars.json" Revoked --data 00 --guid $JG --attr NV,BS,RT
	r1=$rc
	run "$VMVARS" delete "$D/vars.json" Doomed --guid $JG
	check "vmvars set and delete on the crashed store: exit 0, journal empty" \
		test "$r1" = 0 -a "$rc" = 0 -a ! -s "$D/vars.json.journal"
	if start_daemon; then
		got=$(mget Revoked); gone=$(mget Doomed)
		checkx "a new vmvarsd serves the operator's value (00), not the old journal's" \
			'[[ $got == *"\"data\":\"00\""* ]]'
		checkx "a new vmvarsd: the deleted variable stays deleted" '[[ $gone == *EFI_NOT_FOUND* ]]'
		kill -TERM $dpid; wait $dpid 2>/dev/null
	else
		notok "vmvarsd restarts on the edited store"; notok "vmvarsd restart (deleted)"
		kill -9 $dpid 2>/dev/null
	fi
else
	for i in 1 2 3 4 5; do skip "vmvarsd end to end case $i" "vmvarsd not available or did not start"; done
	kill -9 "${dpid:-0}" 2>/dev/null
fi

echo "# $fails failed of $n"
[ "$n" = 118 ] || echo "# plan mismatch: ran $n"
# ---- export, import-state, clone (issue #14) ----------------------------------
U1=6a1f0c2e-8d3b-4e5f-9a0b-1c2d3e4f5a6b
U2=11111111-2222-3333-4444-555555555555
"$VMVARS" create ex.json
"$VMVARS" set ex.json Foo --data 010203 --guid "$U2" --attr NV,BS,RT
"$VMVARS" set ex.json PlatformLang --string en
run "$VMVARS" export ex.json ex.snap --vm-uuid "$U1"
checkx "export: exit 0, a VMVSTATE file with header flag 1 (full) and the VM identity" \
	'test "$rc" = 0 && test "$(head -c 8 ex.snap)" = VMVSTATE && test "$(od -An -tx1 -j10 -N2 ex.snap | tr -d " ")" = 0100 && test "$(od -An -tx1 -j24 -N16 ex.snap | tr -d " \n")" = 2e0c1f6a3b8d5f4e9a0b1c2d3e4f5a6b'
run "$VMVARS" export ex.json ex.snap --vm-uuid "$U1"
check "export: refuses to replace FILE without --force (exit 1)" \
	test "$rc" = 1 -a "$err" = "vmvars: export: ex.snap exists (use --force to replace it)"
run "$VMVARS" import-state ex.snap im.json --vm-uuid "$U2"
checkx "import-state under another VM identity: exit 1, the reason, nothing written" \
	'test "$rc" = 1 -a "$err" = "vmvars: import-state: snapshot: offset 24: the snapshot is of another VM" -a ! -e im.json'
head -c 200 ex.snap >trunc.snap
run "$VMVARS" import-state trunc.snap im.json
checkx "import-state of a truncated snapshot: exit 1, says so, nothing written" \
	'test "$rc" = 1 && echo "$err" | grep -q "given (truncated or padded)" && test ! -e im.json'
cp ex.snap flip.snap
printf '\x55' | dd of=flip.snap bs=1 seek=300 conv=notrunc 2>/dev/null
run "$VMVARS" import-state flip.snap im.json
checkx "import-state of a corrupted snapshot: exit 1, checksum mismatch" \
	'test "$rc" = 1 && echo "$err" | grep -q "checksum mismatch" && test ! -e im.json'
run "$VMVARS" import-state ex.snap im.json --vm-uuid "$U1"
checkx "import-state: exit 0; every variable of the store, same bytes" \
	'test "$rc" = 0 && test "$("$VMVARS" get im.json Foo --guid "$U2" --hex)" = 010203 && test "$("$VMVARS" get im.json PlatformLang --hex)" = 656e00'
run "$VMVARS" import-state ex.snap im.json
check "import-state: refuses to replace STORE without --force (exit 1)" test "$rc" = 1
run "$VMVARS" clone ex.json cl.json
check "clone without --vm-uuid: usage error (exit 2)" test "$rc" = 2
run "$VMVARS" clone ex.json cl.json --vm-uuid "$U2"
checkx "clone: exit 0, NV content copied, says what it resets" \
	'test "$rc" = 0 && test "$("$VMVARS" get cl.json Foo --guid "$U2" --hex)" = 010203 && echo "$out" | grep -q "^reset: the VM identity (start its vmvarsd with --vm-uuid $U2)"'
# the clone's variables are the export's: export it again under its identity
"$VMVARS" export cl.json cl.snap --vm-uuid "$U2" >/dev/null
"$VMVARS" export im.json im.snap --vm-uuid "$U2" >/dev/null
check "clone and import-state give the same store (equal snapshots)" cmp -s cl.snap im.snap
if hold_lock ex.json.lock $'4242 vmvarsd\n'; then
	run "$VMVARS" export ex.json busy.snap
	checkx "export while vmvarsd holds the store: exit 1, names it and the management API" \
		'test "$rc" = 1 && echo "$err" | grep -q "in use by vmvarsd (pid 4242)" && echo "$err" | grep -q "save-state" && test ! -e busy.snap'
	release_lock
else
	notok "could not hold the lock of ex.json"
fi
printf 'x' >ex.json.journal
run "$VMVARS" export ex.json j.snap
checkx "export with an unfolded vmvarsd journal beside the store: exit 1, says so" \
	'test "$rc" = 1 && echo "$err" | grep -q "ex.json.journal holds writes not yet in ex.json" && test ! -e j.snap'
rm -f ex.json.journal

# ---- the Microsoft 2023 CA rollover (issue #16) --------------------------------
# Microsoft's real signed objects, from the project's own copy (data/ms-secureboot,
# VMVARS_MS_DATA set by meson), applied to Debian's OVMF_VARS_4M.ms.fd.
MSD=${VMVARS_MS_DATA:-}
MSFD=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
if [ -n "$MSD" ] && [ -d "$MSD" ] && [ -f "$MSFD" ] && command -v openssl >/dev/null; then
	DEBPK="Debian's distribution PK (sha256 5fb05ed84c5170d5...)"
	cp "$MSFD" deb.fd
	run "$VMVARS" rollover deb.fd
	checkx "rollover of Debian's ms.fd without consent: exit 1, says why (Debian's PK has no Microsoft-signed KEK update), file byte-identical" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: deb.fd: KEK 2023 cannot be added with a signature: the store'"'"'s PK is $DEBPK, for which Microsoft publishes no signed KEK update; adding it as the host owner needs --allow-host-kek; nothing written" && cmp -s deb.fd "$MSFD"'
	run "$VMVARS" rollover deb.fd --allow-host-kek --dry-run
	checkx "--dry-run: exit 0, the plan (KEK by host consent, 3 db CAs and the dbx by authenticated appends), nothing written" \
		'test "$rc" = 0 && cmp -s deb.fd "$MSFD" && test "$(echo "$out" | tail -1)" = "deb.fd: dry run: 5 changes, +27291 bytes; nothing written" && test "$(echo "$out" | grep -c "authenticated append signed by Microsoft Corporation KEK CA 2011")" = 4 && echo "$out" | grep -q "^deb.fd: KEK + Microsoft Corporation KEK 2K CA 2023: host-owner append (--allow-host-kek)"'
	run "$VMVARS" rollover deb.fd --allow-host-kek --json
	echo "$out" > ro.json
	check "rollover --allow-host-kek: exit 0; KEK by host, Windows/UEFI/Option ROM CA 2023 and the amd64 dbx by authenticated appends" \
		test "$rc" = 0 -a "$(json_get ro.json "d['rolled_over'], d['refused'], d['targets'][0]['result'], [(a['variable'], a['method']) for a in d['targets'][0]['actions']]")" = \
		"1 0 rolled-over [('KEK', 'host'), ('db', 'authenticated'), ('db', 'authenticated'), ('db', 'authenticated'), ('dbx', 'authenticated')]"
	# Independently of sb-state: export KEK and db as PEM and fingerprint them with openssl.
	rm -rf pems && mkdir pems && "$VMVARS" sb-certs deb.fd --out-dir pems >/dev/null
	fps=$(for f in pems/KEK-* pems/db-*; do openssl x509 -in "$f" -noout -fingerprint -sha256 | tr -d : | tr A-F a-f | sed 's/.*=//'; done | sort | tr '\n' ' ')
	want=$(printf '%s\n' 5fb05ed84c5170d542ed6a7b7487dd57b8faedb02f7e107b0409e1d22cac4169 \
		a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503 \
		3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d \
		e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961 \
		48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507 \
		076f1fea90ac29155ebf77c17682f75f1fdd1be196da302dc8461e350a9ae330 \
		f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901 \
		e5be3e64c6e66a281457ecdece0d6d0787577aad2a3a0144262c10c14ba8d8f1 | sort | tr '\n' ' ')
	check "after the rollover KEK and db hold exactly Debian's key, the 2011 CAs (kept) and the four 2023 CAs, by openssl's SHA-256" test "$fps" = "$want"
	check "order and owners kept: KEK = Debian, KEK CA 2011, KEK 2023; db = the two 2011 CAs, then the three 2023 CAs; Microsoft's owner GUID on every Microsoft entry" \
		test "$("$VMVARS" get deb.fd KEK --json | python3 -c 'import json,sys; print([(e["owner"][:8], e["cn"]) for e in json.load(sys.stdin)["decoded"]])') $("$VMVARS" get deb.fd db --json | python3 -c 'import json,sys; print(sorted(set(e["owner"] for e in json.load(sys.stdin)["decoded"])))')" = \
		"[('a0baa8a3', 'Debian UEFI Secure Boot (PK/KEK key)'), ('77fa9abd', 'Microsoft Corporation KEK CA 2011'), ('77fa9abd', 'Microsoft Corporation KEK 2K CA 2023')] ['77fa9abd-0359-4d32-bd60-28f4e78f784b']"
	run "$VMVARS" sb-state deb.fd --json
	echo "$out" > st.json
	check "sb-state after the rollover: all seven CAs present, 443 of 443 dbx entries, verdict ready" \
		test "$(json_get st.json "[c['present'] for c in d['microsoft_cas']], d['dbx_update'], d['verdict'], d['pk']['kind']")" = \
		"[True, True, True, True, True, True, True] {'arch': 'amd64', 'entries': 443, 'applied': 443} ready distribution"
	cp deb.fd deb1.fd
	run "$VMVARS" rollover deb.fd --allow-host-kek
	checkx "a second rollover: exit 0, nothing to do, file byte-identical" \
		'test "$rc" = 0 && test "$out" = "deb.fd: nothing to do (the 2023 CAs and the newest dbx are already there)" && cmp -s deb.fd deb1.fd'

	# sb-state on the untouched template: by fingerprint, with the verdict
	run "$VMVARS" sb-state "$MSFD" --json
	echo "$out" > st.json
	check "sb-state of Debian's ms.fd: 2011 CAs present and expired, 2023 absent, 0 of 443 dbx, host-only verdict" \
		test "$(json_get st.json "[(c['id'], c['present'], c['status']) for c in d['microsoft_cas'] if '2011' in c['id']], [c['present'] for c in d['microsoft_cas'] if '2023' in c['id']], d['dbx_update']['applied'], d['verdict']")" = \
		"[('kek-2011', True, 'expired'), ('windows-pca-2011', True, 'expired'), ('uefi-ca-2011', True, 'expired')] [False, False, False, False] 0 host-only"

	# A store whose PK is Microsoft's Windows OEM Devices PK takes Microsoft's
	# PK-signed KEK update as an authenticated write, no consent needed.
	"$VMVARS" convert "$MSFD" oem.json >/dev/null 2>&1
	"$VMVARS" enroll oem.json PK "$MSD/PreSignedObjects/PK/Certificate/WindowsOEMDevicesPK.der" --owner ms >/dev/null
	run "$VMVARS" rollover oem.json --json
	echo "$out" > ro.json
	check "Windows OEM Devices PK: KEK 2023 by Microsoft's PK-signed update (KEKUpdate_Microsoft_PK3d8660c0.bin), verified as the firmware would" \
		test "$rc" = 0 -a "$(json_get ro.json "d['targets'][0]['pk']['kind'], d['targets'][0]['actions'][0]['variable'], d['targets'][0]['actions'][0]['method'], d['targets'][0]['actions'][0]['source']")" = \
		"microsoft-kek-update KEK authenticated PostSignedObjects/KEK/Microsoft/KEKUpdate_Microsoft_PK3d8660c0.bin"

	# An update signed for another PK: a data set whose map sends Debian's PK
	# to Red Hat's KEK update.  SetVariable refuses it; nothing is written.
	rm -rf msd2 && cp -r "$MSD" msd2 && chmod -R u+w msd2
	debsha1=$(openssl x509 -in pems/PK-0-* -noout -fingerprint -sha1 2>/dev/null | sed 's/.*=//' | tr -d : | tr A-F a-f)
	python3 -c "import json,sys; p='msd2/PostSignedObjects/KEK/kek_update_map.json'; m=json.load(open(p)); m['$debsha1']={'KEKUpdate':'RedHat/KEKUpdate_RedHat_PK1.bin'}; json.dump(m,open(p,'w'))"
	cp "$MSFD" deb2.fd
	run "$VMVARS" rollover deb2.fd --ms-data msd2
	checkx "a KEK update signed by another PK (Red Hat's) for Debian's PK: exit 1, EFI_SECURITY_VIOLATION, file byte-identical" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: deb2.fd: PostSignedObjects/KEK/RedHat/KEKUpdate_RedHat_PK1.bin refused by SetVariable (KEK): EFI_SECURITY_VIOLATION: not signed by a key this store trusts for KEK; nothing written" && cmp -s deb2.fd "$MSFD"'

	# Corrupt data files: named, with the reason; nothing written.
	rm -rf msd3 && cp -r "$MSD" msd3 && chmod -R u+w msd3
	head -c 1000 "$MSD/PostSignedObjects/Optional/DB/amd64/DBUpdate3P2023.bin" > msd3/PostSignedObjects/Optional/DB/amd64/DBUpdate3P2023.bin
	run "$VMVARS" rollover deb2.fd --allow-host-kek --ms-data msd3
	checkx "a truncated signed db update: exit 1, names the file and says truncated, file byte-identical" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: deb2.fd: msd3/PostSignedObjects/Optional/DB/amd64/DBUpdate3P2023.bin: not a signed update: no valid EFI_VARIABLE_AUTHENTICATION_2 header (truncated or corrupt, 1000 bytes); nothing written" && cmp -s deb2.fd "$MSFD"'
	rm -rf msd4 && cp -r "$MSD" msd4 && chmod -R u+w msd4
	printf 'X' | dd of="msd4/PreSignedObjects/KEK/Certificates/microsoft corporation kek 2k ca 2023.der" bs=1 seek=500 conv=notrunc 2>/dev/null
	run "$VMVARS" rollover deb2.fd --allow-host-kek --ms-data msd4
	checkx "a changed KEK 2023 certificate file: exit 1, its SHA-256 is not Microsoft's, file byte-identical" \
		'test "$rc" = 1 && [[ $err == "vmvars: rollover: deb2.fd: msd4/PreSignedObjects/KEK/Certificates/microsoft corporation kek 2k ca 2023.der: SHA-256 "*" is not Microsoft Corporation KEK 2K CA 2023'"'"'s (3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d): corrupt or replaced data file; nothing written" ]] && cmp -s deb2.fd "$MSFD"'
	rm -rf msd5 && cp -r "$MSD" msd5 && chmod -R u+w msd5
	printf '{"3d8660c0cb2d57b189c3d7995572a552f75e48b5": {' > msd5/PostSignedObjects/KEK/kek_update_map.json
	run "$VMVARS" rollover deb2.fd --allow-host-kek --ms-data msd5
	checkx "a truncated kek_update_map.json: exit 1, names it and says truncated, file byte-identical" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: deb2.fd: msd5/PostSignedObjects/KEK/kek_update_map.json: not Microsoft'"'"'s KEK update map (a JSON object of PK thumbprint -> {\"KEKUpdate\": path}): truncated JSON; nothing written" && cmp -s deb2.fd "$MSFD"'
	run "$VMVARS" rollover deb2.fd --ms-data /nonexistent
	checkx "a missing data set: exit 1, says where to point VMVARS_MS_DATA" \
		'test "$rc" = 1 && [[ $err == "vmvars: rollover: /nonexistent: Microsoft Secure Boot data not found"* ]]'

	# An impostor: a self-signed certificate named "Microsoft UEFI CA 2023".
	openssl req -new -x509 -newkey rsa:2048 -nodes -subj "/CN=Microsoft UEFI CA 2023/O=Microsoft Corporation/C=US" \
		-keyout imp.key -out imp.crt -days 3650 >/dev/null 2>&1
	cp "$MSFD" imp.fd
	"$VMVARS" enroll imp.fd db imp.crt --owner ms >/dev/null
	run "$VMVARS" sb-state imp.fd --json
	echo "$out" > st.json
	check "sb-state: a self-signed 'Microsoft UEFI CA 2023' in db is not counted (present False, not in microsoft_2023_cas)" \
		test "$(json_get st.json "[c['present'] for c in d['microsoft_cas'] if c['id'] == 'microsoft-uefi-ca-2023'], d['microsoft_2023_cas'], any(c['cn'] == 'Microsoft UEFI CA 2023' for c in d['certificates'])")" = "[False] [] True"
	run "$VMVARS" rollover imp.fd --allow-host-kek --json
	echo "$out" > ro.json
	check "rollover of the impostor's store still adds the real Microsoft UEFI CA 2023" \
		test "$rc" = 0 -a "$(json_get ro.json "[a['adds'] for a in d['targets'][0]['actions'] if a['variable'] == 'db']")" = \
		"['Windows UEFI CA 2023', 'Microsoft UEFI CA 2023', 'Microsoft Option ROM UEFI CA 2023']"

	# A store too full: refused with the bytes missing, before anything is written.
	"$VMVARS" convert "$MSFD" full.json >/dev/null 2>&1
	head -c 60000 /dev/zero > fill
	for i in 1 2 3; do "$VMVARS" set full.json Fill$i --file fill --guid "$U2" --attr NV,BS,RT; done
	head -c 50000 /dev/zero > fill
	"$VMVARS" set full.json Fill4 --file fill --guid "$U2" --attr NV,BS,RT
	cp full.json full0.json
	# free = the store's NV capacity (256 KiB less the 4 KiB kept for HwErrRec)
	# minus 60 bytes of header + name + data per variable (store.h invariant 4)
	free=$(python3 -c "import json; d=json.load(open('full.json')); print(258048 - sum(60 + 2*(len(v['name'])+1) + len(v['data'])//2 for v in d['variables'] if v['attr'] & 1))")
	run "$VMVARS" rollover full.json --allow-host-kek
	checkx "a store too full: exit 1, the bytes the rollover adds, free and missing, file byte-identical" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: full.json: not enough room: the rollover adds 27291 bytes but the store has $free of 258048 bytes free: $((27291 - free)) more bytes needed; nothing written" && cmp -s full.json full0.json'

	# Debian's 2 MiB OVMF_VARS.ms.fd: the store's limits would take the dbx,
	# the flash layout's per-variable limit (0x2800) does not: refused before
	# any plan line is printed, even with --dry-run.
	if [ -f /usr/share/OVMF/OVMF_VARS.ms.fd ]; then
		cp /usr/share/OVMF/OVMF_VARS.ms.fd small.fd
		run "$VMVARS" rollover small.fd --allow-host-kek --dry-run
		checkx "the 2 MiB flash layout cannot hold the newest dbx: exit 1, the layout's limit named, no plan printed, file byte-identical" \
			'test "$rc" = 1 && test -z "$out" && test "$err" = "vmvars: rollover: small.fd: fd: variable dbx needs 0x53bc bytes, over the firmware'"'"'s per-variable limit of 0x2800 for this layout; nothing written" && cmp -s small.fd /usr/share/OVMF/OVMF_VARS.ms.fd'
	else
		skip "the 2 MiB flash layout" "no /usr/share/OVMF/OVMF_VARS.ms.fd"
	fi
	# A flash image whose variable store is too full: the bytes needed, from
	# the layout's record space (7 records of 8068 bytes fit Debian's 2 MiB
	# OVMF_VARS.fd, the 8th needs 7300 more), nothing written.
	if [ -f /usr/share/OVMF/OVMF_VARS.fd ]; then
		cp /usr/share/OVMF/OVMF_VARS.fd full.fd
		head -c 8000 /dev/zero >f8k.bin
		for i in 1 2 3 4 5 6 7; do
			"$VMVARS" set full.fd F$i --guid "$JG" --attr NV,BS --file f8k.bin >/dev/null 2>&1
		done
		cp full.fd full7.fd
		run "$VMVARS" set full.fd F8 --guid "$JG" --attr NV,BS --file f8k.bin
		checkx "a full flash image: exit 1, the bytes needed from the layout's record space, file byte-identical" \
			'test "$rc" = 1 && test "$err" = "vmvars: set: full.fd: fd: the variables do not fit the flash layout'"'"'s variable store: they need 64544 bytes of its 57244 bytes of record space, 7300 more bytes (out of room at F8)" && cmp -s full.fd full7.fd'
	else
		skip "a full flash image" "no /usr/share/OVMF/OVMF_VARS.fd"
	fi
	# An ArmVirt flash image gets the arm64 dbx unless --arch says otherwise.
	"$VMVARS" create arm.fd --layout armvirt >/dev/null 2>&1
	"$VMVARS" enroll arm.fd --from "$MSFD" >/dev/null 2>&1
	run "$VMVARS" rollover arm.fd --allow-host-kek --json
	echo "$out" > ro.json
	check "an ArmVirt flash image: the arm64 dbx update by default (26 of 26 entries applied afterwards)" \
		test "$rc" = 0 -a "$(json_get ro.json "d['targets'][0]['arch'], d['targets'][0]['actions'][-1]['source']") $("$VMVARS" sb-state arm.fd --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["dbx_update"]; print(d["arch"], d["applied"], d["entries"])')" = \
		"arm64 PostSignedObjects/DBX/arm64/DBXUpdate.bin arm64 26 26"

	# A journaled JSON store (vmvarsd killed): read with its journal, which
	# the write folds in, as every vmvars edit does (docs/cli.md).
	"$VMVARS" convert "$MSFD" jr.json >/dev/null 2>&1
	rec Extra=0a >jr.json.journal
	run "$VMVARS" rollover jr.json --allow-host-kek
	check "a journaled JSON store: rolled over, the journal's write kept in jr.json, the journal emptied, sb-state ready" \
		test "$rc $("$VMVARS" get jr.json Extra --guid "$JG" --hex) $(stat -c %s jr.json.journal) $("$VMVARS" sb-state jr.json --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')" = "0 0a 0 ready"

	# A running VM's store: its vmvarsd holds the lock; nothing is written.
	cp "$MSFD" held.fd
	if hold_lock held.fd.lock $'4242 vmvarsd\n'; then
		run "$VMVARS" rollover held.fd --allow-host-kek
		checkx "a store vmvarsd holds: exit 1, says so, file byte-identical" \
			'test "$rc" = 1 && [[ $err == *"held.fd is in use by vmvarsd (pid 4242)"*"nothing written" ]] && cmp -s held.fd "$MSFD"'
		release_lock
	else
		notok "could not hold the lock of held.fd"
	fi
	cp "$MSFD" fresh.fd
	run "$VMVARS" rollover fresh.fd --json
	echo "$out" > ro1.json
	rc1=$rc
	run "$VMVARS" rollover full.json --allow-host-kek --json
	echo "$out" > ro2.json
	checkx "--json refusals carry a reason code for fleet tooling (needs-consent, no-room); exit 1, files unchanged" \
		'test "$rc1 $rc" = "1 1" && test "$(json_get ro1.json "d['"'"'targets'"'"'][0]['"'"'reason'"'"']") $(json_get ro2.json "d['"'"'targets'"'"'][0]['"'"'reason'"'"'], d['"'"'refused'"'"']")" = "needs-consent no-room 1" && cmp -s fresh.fd "$MSFD" && cmp -s full.json full0.json'
	"$VMVARS" create setup.json
	run "$VMVARS" rollover setup.json
	checkx "a store in setup mode: exit 1, refused (signed updates would not be verified)" \
		'test "$rc" = 1 && test "$err" = "vmvars: rollover: setup.json: in setup mode (no PK): signed updates would not be verified; enroll a PK first (vmvars enroll); nothing written"'

	# One-shot provisioning (issue #16 item 4): create with a PK, Microsoft's
	# KEK/db of a generation, the newest dbx, Secure Boot on.
	openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=vmvars test PK" -days 365 \
		-keyout ppk.key -out ppk.pem >/dev/null 2>&1
	sbj() { "$VMVARS" sb-state "$1" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["mode"], d["enforced"], d["pk"]["kind"], "".join("1" if c["present"] else "0" for c in d["microsoft_cas"]), (d["dbx_update"] or {}).get("applied"), d["verdict"])'; }
	run "$VMVARS" create prov.json --pk ppk.pem
	checkx "create --pk: exit 0; user mode, enforced, custom PK, all seven Microsoft CAs, 443 dbx entries, verdict ready" \
		'test "$rc" = 0 && test "$(sbj prov.json)" = "user True custom 1111111 443 ready" && test "$("$VMVARS" get prov.json PK --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"decoded\"][0][\"owner\"])" 2>/dev/null)" = a0baa8a3-041d-48a8-bc87-c36d121b5e3d'
	run "$VMVARS" create prov11.fd --pk ppk.pem --microsoft 2011
	r1=$rc; s1=$(sbj prov11.fd)
	run "$VMVARS" create prov23.json --pk ppk.pem --microsoft 2023 --dbx none
	checkx "create --microsoft 2011 (an fd) / 2023 --dbx none: exactly that generation's CAs, the dbx or none" \
		'test "$r1 $rc" = "0 0" && test "$s1" = "user True custom 1011000 443 host-only" && test "$(sbj prov23.json)" = "user True custom 0100111 0 needs-rollover"'
	run "$VMVARS" create provd.json --keys-from "$MSFD" --microsoft 2023
	checkx "create --keys-from Debian's ms.fd --microsoft 2023: Debian's PK, 2011 and 2023 CAs, ready" \
		'test "$rc" = 0 && test "$(sbj provd.json)" = "user True distribution 1111111 443 ready"'
	run "$VMVARS" create provx.json --pk nonexistent.pem
	r1=$rc; e1=$err
	run "$VMVARS" create provx.json --pk ppk.pem --ms-data msd4
	checkx "create --pk with a missing certificate / corrupt data: exit 1, the reason, no file" \
		'test "$r1 $rc" = "1 1" && [[ $e1 == "vmvars: create: provx.json: nonexistent.pem: No such file or directory; nothing written" ]] && [[ $err == *"corrupt or replaced data file; nothing written" ]] && test ! -e provx.json'

	# aws and Xen stores, several targets in one command, one report.
	"$VMVARS" convert "$MSFD" vm.aws --to aws >/dev/null 2>&1
	"$VMVARS" convert "$MSFD" vm.xen --to xen >/dev/null 2>&1
	run "$VMVARS" rollover vm.aws vm.xen deb.fd setup.json --allow-host-kek --vtpm --json
	echo "$out" > ro.json
	check "four targets, one JSON report: aws and Xen rolled over, the done one a no-op, setup refused (reason setup-mode); exit 1" \
		test "$rc" = 1 -a "$(json_get ro.json "[(t['format'] if 'format' in t else '', t['result']) for t in d['targets']], d['rolled_over'], d['no_op'], d['refused'], d['targets'][3]['reason']")" = \
		"[('aws', 'rolled-over'), ('xen', 'rolled-over'), ('fd', 'no-op'), ('json', 'refused')] 2 1 1 setup-mode"
	checkx "--vtpm: a PCR 7 warning for each store that changes, in the report and on stderr" \
		'test "$(echo "$err" | grep -c "the VM has a vTPM: PCR 7")" = 2 && test "$(json_get ro.json "len(d['"'"'targets'"'"'][0]['"'"'warnings'"'"'])")" = 1'
	check "the rolled-over aws and Xen stores: sb-state ready" \
		test "$("$VMVARS" sb-state vm.aws --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])') $("$VMVARS" sb-state vm.xen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')" = "ready ready"
	# --targets-from: the list of a fleet too large for argv, from stdin.
	cp "$MSFD" "fleet a.fd"; cp "$MSFD" fleet-b.fd
	printf '# two stores\n\nfleet a.fd\nfleet-b.fd\n' >targets.txt
	run "$VMVARS" rollover deb.fd --targets-from - --allow-host-kek --json <targets.txt
	echo "$out" > ro.json
	check "--targets-from -: argv and stdin targets in one report (comments, blank lines skipped, spaces kept)" \
		test "$rc" = 0 -a "$(json_get ro.json "[(t['file'], t['result']) for t in d['targets']]")" = \
		"[('deb.fd', 'no-op'), ('fleet a.fd', 'rolled-over'), ('fleet-b.fd', 'rolled-over')]"
else
	for i in $(seq 1 32); do skip "rollover case $i" "no VMVARS_MS_DATA, $MSFD or openssl"; done
fi

echo "# $fails failed of $n"
[ "$n" = 102 ] || echo "# plan mismatch: ran $n"
exit 0
