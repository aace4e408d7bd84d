/*
 * src/core/lang.h -- the PlatformLang <-> Lang correspondence (formats
 * §8.2 row 20; edk2's AutoUpdateLangVariable): a language written to one
 * of the two variables is matched against its supported-codes variable,
 * and the entry at the same position in the other codes variable is what
 * the other variable becomes.
 *
 *   Lang, LangCodes                   ISO 639-2: three letters per entry,
 *                                     concatenated ("engfra")
 *   PlatformLang, PlatformLangCodes   RFC 4646: entries separated by ';'
 *                                     ("en;fr;en-US;fr-FR")
 *
 * Every argument is guest data of any length: strings end at their first
 * NUL or at their size, whichever comes first; nothing is read past size.
 */
#ifndef VMVARS_CORE_LANG_H
#define VMVARS_CORE_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest companion value produced, NUL included: a PlatformLang entry is
 * at most as long as its codes variable, and longer ones are not synced. */
#define VV_LANG_MAX 256

/*
 * The companion of `value` written to the ISO 639-2 variable (from_iso639:
 * Lang, with from_codes = LangCodes, to_codes = PlatformLangCodes) or to
 * the RFC 4646 one (PlatformLang, from_codes = PlatformLangCodes, to_codes
 * = LangCodes).  On a match, out holds the companion NUL-terminated and
 * *out_size counts the NUL (what is stored); false when nothing matches,
 * the position has no counterpart, or it would not fit in VV_LANG_MAX.
 */
bool vv_lang_companion(bool from_iso639, const uint8_t *value, size_t value_size,
		       const uint8_t *from_codes, size_t from_size, const uint8_t *to_codes,
		       size_t to_size, char out[VV_LANG_MAX], size_t *out_size);

#endif
