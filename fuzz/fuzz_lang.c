/*
 * fuzz/fuzz_lang.c -- libFuzzer target for the PlatformLang <-> Lang
 * correspondence (src/core/lang.c), which reads guest-written strings of
 * any length: the written value and both *Codes variables.
 *
 * Input: direction u8 (bit 0: the value is an ISO 639-2 Lang), value
 * length u8, from-codes length u8, then the value, the from-codes and, for
 * the rest, the to-codes.
 * Oracle besides the sanitizers: a companion is NUL-terminated, counts its
 * NUL in out_size, has no NUL inside, is three characters when it is a
 * Lang and has no ';' when it is a PlatformLang entry, and occurs in the
 * to-codes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[VV_LANG_MAX];
	size_t value_len, from_len, out_size = 0;
	bool iso;

	if (size < 3)
		return 0;
	iso = data[0] & 1;
	value_len = data[1];
	from_len = data[2];
	data += 3;
	size -= 3;
	if (value_len > size || from_len > size - value_len)
		return 0;
	/* Copies of exact size: ASan then catches any read past them. */
	uint8_t *value = malloc(value_len ? value_len : 1);
	uint8_t *from = malloc(from_len ? from_len : 1);
	size_t to_len = size - value_len - from_len;
	uint8_t *to = malloc(to_len ? to_len : 1);

	if (value == NULL || from == NULL || to == NULL)
		abort();
	memcpy(value, data, value_len);
	memcpy(from, data + value_len, from_len);
	memcpy(to, data + value_len + from_len, to_len);
	if (vv_lang_companion(iso, value, value_len, from, from_len, to, to_len, out, &out_size)) {
		size_t len = out_size - 1;

		if (out_size == 0 || out_size > VV_LANG_MAX || out[len] != '\0' || len == 0 ||
		    memchr(out, '\0', len) != NULL || (iso && memchr(out, ';', len) != NULL) ||
		    (!iso && len != 3) || len > to_len || memmem(to, to_len, out, len) == NULL)
			abort();
	}
	free(value);
	free(from);
	free(to);
	return 0;
}
