/*
 * src/core/cursor.h -- one bounded reader for untrusted bytes (the model is
 * dropbear's buffer.c and tpm2-tss's unmarshalling): every read checks what
 * remains first, a failed read marks the cursor bad and yields zeros, and
 * the caller checks `bad` once at the end of a structure instead of after
 * every field.  Little-endian, as every wire format vmvars reads.
 *
 * Invariant: p + left never moves past the end the cursor was made with;
 * once bad, nothing more is consumed.
 */
#ifndef VMVARS_CURSOR_H
#define VMVARS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vv_cursor {
	const uint8_t *start;
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline struct vv_cursor
vv_cursor_make(const uint8_t *data, size_t size)
{
	struct vv_cursor c = { data, data, size, data == NULL && size != 0 };

	return c;
}

/* Offset of the next byte from the start, for error messages. */
static inline size_t vv_cursor_offset(const struct vv_cursor *c) { return (size_t)(c->p - c->start); }

/* n bytes in place, or NULL (and bad) when fewer remain. */
static inline const uint8_t *
vv_cursor_take(struct vv_cursor *c, size_t n)
{
	const uint8_t *at;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	at = c->p;
	c->p += n;
	c->left -= n;
	return at;
}

static inline uint8_t
vv_cursor_u8(struct vv_cursor *c)
{
	const uint8_t *b = vv_cursor_take(c, 1);

	return b != NULL ? b[0] : 0;
}

static inline uint16_t
vv_cursor_u16(struct vv_cursor *c)
{
	const uint8_t *b = vv_cursor_take(c, 2);

	return b != NULL ? (uint16_t)(b[0] | b[1] << 8) : 0;
}

static inline uint32_t
vv_cursor_u32(struct vv_cursor *c)
{
	const uint8_t *b = vv_cursor_take(c, 4);

	return b != NULL ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			   (uint32_t)b[3] << 24
			 : 0;
}

static inline uint64_t
vv_cursor_u64(struct vv_cursor *c)
{
	uint64_t lo = vv_cursor_u32(c);

	return lo | (uint64_t)vv_cursor_u32(c) << 32;
}

/* A sub-cursor over the next n bytes (consumed from c). */
static inline struct vv_cursor
vv_cursor_sub(struct vv_cursor *c, size_t n)
{
	const uint8_t *at = vv_cursor_take(c, n);
	struct vv_cursor s = { at, at, at != NULL ? n : 0, at == NULL };

	return s;
}

#endif
