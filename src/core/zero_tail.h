/*
 * src/core/zero_tail.h -- a private request buffer that is zero beyond
 * what the last request used, without zeroing all of it every time.
 *
 * The invariant: buf[*dirty, capacity) is all zero.  Before a request of
 * len bytes is copied in, vv_zero_tail zeroes [len, *dirty) -- what a
 * longer earlier request (or the handler's reply to it) left -- and sets
 * *dirty to len; the caller then writes [0, len) and keeps *dirty at or
 * above anything it or its handler writes later.  The whole buffer is
 * then zero beyond the request, as a memset of all of it before every
 * request made it, for the cost of the bytes that were used: the uefi-vars
 * device and vmvarsd each spent about a microsecond per request on a
 * 64 KiB memset (docs/performance.md "Where the round trip went").
 */
#ifndef VMVARS_CORE_ZERO_TAIL_H
#define VMVARS_CORE_ZERO_TAIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void
vv_zero_tail(uint8_t *buf, size_t *dirty, size_t len)
{
	if (*dirty > len)
		memset(buf + len, 0, *dirty - len);
	*dirty = len;
}

#endif
