/*
 * src/core/name_hash.h -- the one hash used for (vendor GUID, name) keys,
 * by the variable table and the VarCheck property table.  FNV-1a over the
 * 16 GUID bytes and the name's UCS-2 units: cheap, and good enough because
 * the tables resize to keep chains short (a guest choosing colliding names
 * only slows its own store, which quotas bound).
 */
#ifndef VMVARS_NAME_HASH_H
#define VMVARS_NAME_HASH_H

#include <vmvars/efi.h>

static inline uint64_t
vv_name_hash(const vv_guid *guid, const uint16_t *name, size_t name_len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(guid->b); i++)
		h = (h ^ guid->b[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < name_len; i++) {
		h = (h ^ (name[i] & 0xff)) * 0x100000001b3ULL;
		h = (h ^ (name[i] >> 8)) * 0x100000001b3ULL;
	}
	return h;
}

#endif
