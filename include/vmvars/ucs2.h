/*
 * vmvars/ucs2.h -- UCS-2 variable names: validation and conversion.
 *
 * UEFI names are UCS-2.  vmvars refuses UTF-16 surrogate code units
 * (0xD800-0xDFFF) in names (device-abi §11 "Strings"; Laszlo Ersek's review
 * of QEMU), so every valid name maps 1:1 onto a BMP UTF-8 string and back:
 * that is how non-ASCII names round-trip through JSON.
 */
#ifndef VMVARS_UCS2_H
#define VMVARS_UCS2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Characters before the first NUL among the first max characters. */
size_t vv_ucs2_strnlen(const uint16_t *s, size_t max);
/* True if no unit is a surrogate and none is NUL. */
bool vv_ucs2_valid(const uint16_t *s, size_t len);
/* Equality of two name arrays. */
bool vv_ucs2_equal(const uint16_t *a, size_t alen, const uint16_t *b, size_t blen);

/*
 * UTF-8 -> UCS-2: returns a malloc'd NUL-terminated array and its length in
 * *len, or NULL if the text is not valid UTF-8, holds a character outside
 * the BMP, a surrogate or a NUL.
 */
uint16_t *vv_ucs2_from_utf8(const char *text, size_t text_len, size_t *len);
/* UCS-2 -> malloc'd UTF-8 (NUL-terminated); NULL if invalid or no memory. */
char *vv_ucs2_to_utf8(const uint16_t *s, size_t len);
/* Convenience for logs: writes at most cap-1 bytes of UTF-8, '?' for bad units. */
void vv_ucs2_print(const uint16_t *s, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_UCS2_H */
