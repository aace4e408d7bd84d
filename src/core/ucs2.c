/*
 * src/core/ucs2.c -- UCS-2 variable names (vmvars/ucs2.h).
 *
 * A valid name holds no NUL and no surrogate unit (0xD800-0xDFFF;
 * device-abi §11 "Strings"), so it maps 1:1 onto UTF-8 made of 1-, 2- and
 * 3-byte sequences for U+0001..U+FFFF minus the surrogates.  Decoding
 * refuses everything else (RFC 3629): overlong forms, surrogates, code
 * points above U+FFFF (no UCS-2 form), NUL, stray continuation bytes and
 * sequences cut short by the end of the text.
 */
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

static bool
is_surrogate(uint32_t c)
{
	return c >= 0xD800 && c <= 0xDFFF;
}

size_t
vv_ucs2_strnlen(const uint16_t *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != 0)
		n++;
	return n;
}

bool
vv_ucs2_valid(const uint16_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == 0 || is_surrogate(s[i]))
			return false;
	return true;
}

bool
vv_ucs2_equal(const uint16_t *a, size_t alen, const uint16_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	return alen == 0 || memcmp(a, b, alen * sizeof(*a)) == 0;
}

/*
 * Decodes one BMP character from p (avail bytes, avail >= 1).  Returns the
 * number of bytes used and sets *out, or 0 if the bytes at p are not a
 * valid, shortest-form UTF-8 encoding of U+0001..U+FFFF minus surrogates.
 */
static size_t
utf8_decode_one(const unsigned char *p, size_t avail, uint32_t *out)
{
	uint32_t c;
	size_t need;

	if (p[0] < 0x80) {
		c = p[0];
		need = 1;
	} else if ((p[0] & 0xE0) == 0xC0) {
		c = p[0] & 0x1F;
		need = 2;
	} else if ((p[0] & 0xF0) == 0xE0) {
		c = p[0] & 0x0F;
		need = 3;
	} else {
		/* continuation byte, 4-byte lead (> U+FFFF) or 0xF8..0xFF */
		return 0;
	}
	if (need > avail)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	/* Shortest form only: 2 bytes encode >= 0x80, 3 bytes >= 0x800. */
	if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800))
		return 0;
	if (c == 0 || is_surrogate(c))
		return 0;
	*out = c;
	return need;
}

uint16_t *
vv_ucs2_from_utf8(const char *text, size_t text_len, size_t *len)
{
	const unsigned char *p = (const unsigned char *)text;
	uint16_t *out;
	size_t n = 0, pos = 0;

	if (text == NULL && text_len != 0)
		return NULL;
	/* Every character takes at least one byte: text_len + 1 units bound
	 * the output (the + 1 for the NUL cannot overflow a size in memory
	 * divided by 2). */
	if (text_len > (SIZE_MAX / sizeof(uint16_t)) - 1)
		return NULL;
	out = malloc((text_len + 1) * sizeof(uint16_t));
	if (out == NULL)
		return NULL;
	while (pos < text_len) {
		uint32_t c;
		size_t used = utf8_decode_one(p + pos, text_len - pos, &c);

		if (used == 0) {
			free(out);
			return NULL;
		}
		out[n++] = (uint16_t)c;
		pos += used;
	}
	out[n] = 0;
	if (len != NULL)
		*len = n;
	return out;
}

/* Encodes one valid BMP character; returns the byte count (1..3). */
static size_t
utf8_encode_one(uint16_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	out[0] = (char)(0xE0 | c >> 12);
	out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[2] = (char)(0x80 | (c & 0x3F));
	return 3;
}

char *
vv_ucs2_to_utf8(const uint16_t *s, size_t len)
{
	char *out;
	size_t pos = 0;

	if (s == NULL && len != 0)
		return NULL;
	if (!vv_ucs2_valid(s, len))
		return NULL;
	/* At most 3 bytes per unit, plus the NUL. */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		pos += utf8_encode_one(s[i], out + pos);
	out[pos] = '\0';
	return out;
}

void
vv_ucs2_print(const uint16_t *s, size_t len, char *out, size_t cap)
{
	size_t pos = 0;

	if (out == NULL || cap == 0)
		return;
	for (size_t i = 0; i < len && s != NULL; i++) {
		char enc[3];
		size_t n;

		if (s[i] == 0 || is_surrogate(s[i])) {
			enc[0] = '?';
			n = 1;
		} else {
			n = utf8_encode_one(s[i], enc);
		}
		/* Never split a character: stop when it does not fit. */
		if (n > cap - 1 - pos)
			break;
		memcpy(out + pos, enc, n);
		pos += n;
	}
	out[pos] = '\0';
}
