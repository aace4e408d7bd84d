/*
 * src/core/varcheck_uefi.h -- the rules for variables the UEFI
 * specification defines (edk2 VarCheckUefiLib; varstore-formats §8.2 rows
 * 15-16, §10.2, §10.3, §10.5).
 */
#ifndef VMVARS_VARCHECK_UEFI_H
#define VMVARS_VARCHECK_UEFI_H

#include <vmvars/store.h>

/*
 * The built-in VarCheck property of a UEFI-defined variable (attributes,
 * size range, read-only flag), or NULL when (guid, name) has none.
 * Covers EFI_GLOBAL_VARIABLE names (fixed and the ####-patterns with four
 * uppercase hex digits), db/dbx/dbt/dbr under EFI_IMAGE_SECURITY_DATABASE
 * and HwErrRec#### under EFI_HARDWARE_ERROR_VARIABLE.
 */
const struct vv_var_property *vv_uefi_var_property(const uint16_t *name, size_t name_len,
						   const vv_guid *guid);

/*
 * The VarCheckUefiLib SetVariable handler (called after EndOfDxe, not for
 * deletes): EFI_INVALID_PARAMETER when
 *  - HR is set but the name is not HwErrRec#### under the hardware-error GUID;
 *  - the GUID is EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE or
 *    EFI_HARDWARE_ERROR_VARIABLE and the specification does not define the
 *    name;
 * *  - the payload breaks the variable's format (load options, key options,
 *    device paths, ASCII language strings, UINT16 arrays).
 * Else EFI_SUCCESS.  payload excludes any authentication descriptor.
 */
vv_status vv_varcheck_uefi(const uint16_t *name, size_t name_len, const vv_guid *guid,
			   uint32_t attributes, const uint8_t *payload, uint64_t payload_size);

/* The same, and why in why[0, cap) (a clause for a person, "" on
 * success): "its value is an array of 2-byte UINT16 option numbers; 5
 * bytes is not a multiple of 2", "the UEFI specification defines no
 * variable of this name in the EFI_GLOBAL_VARIABLE namespace, ...". */
vv_status vv_varcheck_uefi_why(const uint16_t *name, size_t name_len, const vv_guid *guid,
			       uint32_t attributes, const uint8_t *payload, uint64_t payload_size,
			       char *why, size_t cap);

/* Format validators, exposed for the CLI decoders and tests. */
bool vv_device_path_valid(const uint8_t *p, uint64_t size, bool multi_instance);
bool vv_load_option_valid(const uint8_t *p, uint64_t size);

#endif
