/*
 * src/auth/auth2.h -- EFI_VARIABLE_AUTHENTICATION_2 descriptors and the
 * data they sign (varstore-formats §8.4, device-abi §10.2); the layout and the
 * public part (parse, signed data, verify) are in vmvars/sigdb.h.
 */
#ifndef VMVARS_AUTH2_H
#define VMVARS_AUTH2_H

#include <vmvars/sigdb.h>

/* <0, 0, >0 comparing Year, Month, Day, Hour, Minute, Second only
 * (edk2 AuthServiceInternalCompareTimeStamp). */
int vv_efi_time_compare(const vv_efi_time *a, const vv_efi_time *b);

#endif
