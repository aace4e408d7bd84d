/*
 * src/core/crc32.h -- CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320,
 * the zlib/gzip/PNG CRC), equal to zlib's crc32() for every input: the
 * checksum of the service-state snapshot (docs/snapshot.md).  Not public.
 */
#ifndef VMVARS_CRC32_H
#define VMVARS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32(crc, buf, len) as zlib computes it (start with crc 0). */
uint32_t vv_crc32(uint32_t crc, const void *buf, size_t len);

#endif
