/*
 * src/core/crc32c.h -- CRC-32C (Castagnoli; reflected polynomial
 * 0x82F63B78, init and final XOR 0xffffffff): edk2's
 * CalculateCrc32c(buf, len, 0).  The uefi-vars device, the journal and
 * the aws format use it.  vmvars/uefi_vars_device.h declares the same
 * function for library users (the device's PIO_BUFFER_CRC32C register).
 */
#ifndef VMVARS_CRC32C_H
#define VMVARS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vv_crc32c(const void *buf, size_t len);

#endif
