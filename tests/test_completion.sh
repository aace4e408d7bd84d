#!/usr/bin/env bash
# tests/test_completion.sh -- contrib/bash-completion/vmvars as a shell
# uses it: sourced into bash, _vmvars called with COMP_WORDS/COMP_CWORD as
# readline sets them, COMPREPLY compared exactly; and meson installs it
# where bash-completion looks (share/bash-completion/completions/vmvars).
# Prints TAP.
#
# meson passes VMVARS (the built vmvars: the completion asks it for its
# commands and options), VMVARS_SRC and VMVARS_BUILD_ROOT.
set -u

VMVARS=${VMVARS:?}
SRC=${VMVARS_SRC:?}
BUILD=${VMVARS_BUILD_ROOT:?}
T=$(mktemp -d /tmp/vmvars-compl-XXXXXX)
trap 'rm -rf "$T"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

# comp WORD...: completes the last word; the words COMPREPLY offers, sorted, on one line
comp() {
	COMP_WORDS=("$VMVARS" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_vmvars
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect DESC WANT WORD...
expect() {
	local desc=$1 want=$2 got
	shift 2
	got=$(comp "$@")
	if [ "$got" = "$want" ]; then ok "$desc"; else notok "$desc (got '$got', want '$want')"; fi
}

echo "1..11"

# shellcheck source=/dev/null
source "$SRC/contrib/bash-completion/vmvars"
if complete -p vmvars 2>/dev/null | grep -q -- '-F _vmvars'; then
	ok "sourcing it registers _vmvars for vmvars"
else
	notok "sourcing it registers _vmvars for vmvars"
fi
expect "vmvars co<TAB>: convert" "convert" co
expect "vmvars s<TAB>: every command starting with s, from vmvars --help" \
	"sb-certs sb-mode sb-state set sign" s
expect "vmvars convert --t<TAB>: the options convert --help lists" "--template --to" convert --t
expect "vmvars convert a.fd b.json --to <TAB>: the formats" "aws fd json xen" convert a.fd b.json --to ""
expect "vmvars firmware <TAB>: its subcommands" "instantiate list select show" firmware ""
expect "vmvars firmware select --feature amd<TAB>: the features" \
	"amd-sev amd-sev-es amd-sev-snp" firmware select --feature amd
expect "vmvars set vm.fd Foo --g<TAB>: --guid" "--guid" set vm.fd Foo --g
expect "vmvars set vm.fd Foo --guid s<TAB>: the namespace names vmvars takes" \
	"security shim" set vm.fd Foo --guid s
mkdir "$T/stores" && touch "$T/stores/vm1.fd" "$T/stores/vm2.json"
expect "vmvars list DIR/vm<TAB>: the store files" "$T/stores/vm1.fd $T/stores/vm2.json" \
	list "$T/stores/vm"

# Installed where bash-completion loads it on demand.
if meson introspect --installed "$BUILD" | grep -q '/share/bash-completion/completions/vmvars"'; then
	ok "meson installs it as share/bash-completion/completions/vmvars"
else
	notok "meson installs it as share/bash-completion/completions/vmvars"
fi
