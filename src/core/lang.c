/*
 * src/core/lang.c -- the PlatformLang <-> Lang correspondence (lang.h;
 * formats §8.2 row 20).  The matching is edk2's:
 *  - ISO 639-2 (Lang): the first min(3, length) characters of the value
 *    are compared with each three-letter entry of LangCodes; one try.
 *  - RFC 4646 (PlatformLang): the value up to its first ';' is compared as
 *    a prefix of each ';'-separated entry of PlatformLangCodes no shorter
 *    than it; when none matches, the value is cut back to its last '-'
 *    and tried again ("en-US-x" -> "en-US" -> "en"), RFC 4647 lookup.
 *  - The first matching entry's position picks the entry at the same
 *    position in the other codes variable.
 * Where edk2 reads past the end of a codes string (an entry index beyond
 * it, a LangCodes length not a multiple of three), there is no companion.
 */
#include <string.h>

#include "core/lang.h"

#define ISO639_SIZE 3

/* Length of the string in p[0..size): up to the first NUL or size. */
static size_t
bounded_len(const uint8_t *p, size_t size)
{
	const uint8_t *nul = p != NULL ? memchr(p, 0, size) : NULL;

	return p == NULL ? 0 : nul != NULL ? (size_t)(nul - p) : size;
}

/* An RFC 4646 codes list, walked entry by entry; runs of ';' separate
 * entries and never make an empty one. */
struct entries {
	const uint8_t *s;
	size_t len, off;
};

/* The next entry's start and length; false at the end. */
static bool
next_entry(struct entries *e, size_t *start, size_t *len)
{
	while (e->off < e->len && e->s[e->off] == ';')
		e->off++;
	if (e->off >= e->len)
		return false;
	*start = e->off;
	while (e->off < e->len && e->s[e->off] != ';')
		e->off++;
	*len = e->off - *start;
	return true;
}

/* Position of the first three-letter entry of codes starting with the
 * first min(3, len) characters of lang; -1 if none. */
static long
iso639_match(const uint8_t *lang, size_t lang_len, const uint8_t *codes, size_t codes_len)
{
	size_t want = lang_len < ISO639_SIZE ? lang_len : ISO639_SIZE;

	if (want == 0)
		return -1;
	for (size_t off = 0; off + want <= codes_len; off += ISO639_SIZE)
		if (memcmp(codes + off, lang, want) == 0)
			return (long)(off / ISO639_SIZE);
	return -1;
}

/* Position of the first entry of codes that lang[0..len) is a prefix of,
 * cutting lang back at '-' until something matches; -1 if nothing does. */
static long
rfc4646_match(const uint8_t *lang, size_t lang_len, const uint8_t *codes, size_t codes_len)
{
	size_t len = 0, start, elen;

	while (len < lang_len && lang[len] != ';')
		len++;
	while (len > 0) {
		struct entries e = { codes, codes_len, 0 };

		for (long index = 0; next_entry(&e, &start, &elen); index++)
			if (len <= elen && memcmp(codes + start, lang, len) == 0)
				return index;
		for (len--; len > 0 && lang[len] != '-'; len--)
			;
	}
	return -1;
}

bool
vv_lang_companion(bool from_iso639, const uint8_t *value, size_t value_size,
		  const uint8_t *from_codes, size_t from_size, const uint8_t *to_codes,
		  size_t to_size, char out[VV_LANG_MAX], size_t *out_size)
{
	size_t lang_len = bounded_len(value, value_size);
	size_t from_len = bounded_len(from_codes, from_size);
	size_t to_len = bounded_len(to_codes, to_size);
	size_t start = 0, elen = 0;
	long index;

	if (from_iso639) {
		struct entries e = { to_codes, to_len, 0 };

		index = iso639_match(value, lang_len, from_codes, from_len);
		if (index < 0)
			return false;
		for (long i = 0; i <= index; i++)
			if (!next_entry(&e, &start, &elen))
				return false;
	} else {
		index = rfc4646_match(value, lang_len, from_codes, from_len);
		if (index < 0 || (size_t)index >= to_len / ISO639_SIZE)
			return false;
		start = (size_t)index * ISO639_SIZE;
		elen = ISO639_SIZE;
	}
	if (elen + 1 > VV_LANG_MAX)
		return false;
	memcpy(out, to_codes + start, elen);
	out[elen] = '\0';
	*out_size = elen + 1;
	return true;
}
