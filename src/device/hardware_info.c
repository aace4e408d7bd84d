/*
 * src/device/hardware_info.c -- the fw_cfg file `etc/hardware-info`
 * (uefi-vars-device-abi.md §2.2): how x86 firmware finds the uefi-vars
 * register block.  A sequence of records, each a u64 LE type, a u64 LE
 * payload size and the payload; the uefi-vars record is type 2 with one
 * u64 LE MMIO address (HARDWARE_INFO_SIMPLE_DEVICE).
 *
 * The parser is the guest's view, used by the tests and by VMMs that want
 * to check what they publish: OVMF's QemuHwInfo.c accepts exactly one
 * type-2 record of size >= 8 and otherwise reports EFI_NOT_FOUND (§2.2).
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/fw_cfg.h>

#define UEFI_VARS_PAYLOAD 8u

int
vv_hardware_info_add_uefi_vars(struct vv_fw_cfg *fw, uint64_t mmio_base)
{
	const size_t rec_len = VV_HWINFO_HEADER_SIZE + UEFI_VARS_PAYLOAD;
	uint8_t *old, *image;
	size_t old_len = 0, len;
	uint64_t found;
	int rc;

	old = vv_fw_cfg_file_data(fw, VV_HWINFO_FILE, &old_len);
	/* A second record would make OVMF give up (exactly one, §2.2). */
	if (old != NULL && old_len > 0 && vv_hardware_info_find_uefi_vars(old, old_len, &found) == 0)
		return -1;
	if (old_len > SIZE_MAX - rec_len)
		return -1;
	len = old_len + rec_len;
	image = calloc(1, len);
	if (image == NULL)
		return -1;
	if (old_len > 0)
		memcpy(image, old, old_len);
	vv_put_le64(image + old_len, VV_HWINFO_TYPE_UEFI_VARS);
	vv_put_le64(image + old_len + 8, UEFI_VARS_PAYLOAD);
	vv_put_le64(image + old_len + 16, mmio_base);
	if (old == NULL && vv_fw_cfg_file_key(fw, VV_HWINFO_FILE) == VV_FW_CFG_INVALID)
		rc = vv_fw_cfg_add_file(fw, VV_HWINFO_FILE, image, len, false, NULL);
	else
		rc = vv_fw_cfg_replace_file(fw, VV_HWINFO_FILE, image, len);
	free(image);
	return rc;
}

int
vv_hardware_info_find_uefi_vars(const uint8_t *buf, size_t len, uint64_t *mmio_base)
{
	unsigned count = 0;
	uint64_t base = 0;
	size_t pos = 0;

	if (buf == NULL && len > 0)
		return -1;
	while (pos < len) {
		uint64_t type, size;

		/* Every record must fit: header, then size payload bytes. */
		if (len - pos < VV_HWINFO_HEADER_SIZE)
			return -1;
		type = vv_le64(buf + pos);
		size = vv_le64(buf + pos + 8);
		pos += VV_HWINFO_HEADER_SIZE;
		if (size > len - pos)
			return -1;
		if (type == VV_HWINFO_TYPE_UEFI_VARS && size >= UEFI_VARS_PAYLOAD) {
			base = vv_le64(buf + pos);
			count++;
		}
		pos += (size_t)size;
	}
	if (count != 1)
		return -1;
	*mmio_base = base;
	return 0;
}
