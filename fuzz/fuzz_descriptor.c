/*
 * fuzz/fuzz_descriptor.c -- libFuzzer target for the firmware descriptor
 * parser (src/firmware/descriptor.c; reference §3, §4.1) and the matcher.
 *
 * The input is one descriptor document.  If it parses, the invariants of
 * struct vv_fw_descriptor (vmvars/firmware.h) must hold, else abort; then it
 * is matched against a few queries (every mode, with and without machine
 * globs), which must not crash, and the QEMU arguments are built.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/firmware.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_invariants(const struct vv_fw_descriptor *d)
{
	size_t i;

	if (d->n_interfaces == 0 || d->n_interfaces > VV_FW_IF_COUNT)
		abort();
	switch (d->device) {
	case VV_FW_DEV_FLASH:
		if (d->executable.filename == NULL || d->executable.format == VV_FW_FMT_JSON)
			abort();
		if ((d->mode == VV_FW_MODE_SPLIT) != (d->nvram_template.filename != NULL))
			abort();
		break;
	case VV_FW_DEV_MEMORY:
		if ((d->filename == NULL) == (d->executable.filename == NULL))
			abort();
		if (d->nvram_template.filename != NULL &&
		    (d->mode != VV_FW_MODE_SPLIT || d->nvram_template.format != VV_FW_FMT_JSON))
			abort();
		if (d->mode == VV_FW_MODE_COMBINED)
			abort();
		break;
	default:
		if (d->filename == NULL || d->mode != VV_FW_MODE_STATELESS)
			abort();
	}
	if (d->features >= VV_FW_BIT(VV_FW_FEAT_COUNT))
		abort();
	for (i = 0; i < d->n_targets; i++)
		if ((unsigned)d->targets[i].arch >= VV_FW_ARCH_COUNT)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const machines[] = { "pc-q35-9.0", "virt-3.1", "", "pc-i440fx-2.12" };
	struct vv_fw_descriptor *d;
	struct vv_fw_query q;
	struct vv_error err;
	char reason[256], **args;
	size_t i, n;
	int mode;

	d = vv_fw_descriptor_parse((const char *)data, size, "fuzz.json", &err);
	if (d == NULL) {
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		return 0;
	}
	check_invariants(d);
	for (mode = VV_FW_MODE_ANY; mode < VV_FW_MODE_COUNT; mode++) {
		for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++) {
			vv_fw_query_init(&q);
			q.mode = mode;
			q.machine = machines[i];
			q.arch = i & 1 ? "aarch64" : "x86_64";
			q.features[VV_FW_FEAT_HOST_UEFI_VARS] = mode & 1 ? VV_FW_WANT_YES : VV_FW_WANT_ANY;
			q.nvram_format = i == 3 ? VV_FW_FMT_JSON : -1;
			(void)vv_fw_match(d, &q, reason, sizeof(reason));
		}
	}
	args = vv_fw_qemu_args(d, vv_fw_descriptor_host_vars(d) ? VV_FW_STATE_HOST_VARS
			       : VV_FW_STATE_SPLIT, NULL, "/v,ars", false, &n);
	vv_fw_free_strings(args, n);
	vv_fw_descriptor_free(d);
	return 0;
}
