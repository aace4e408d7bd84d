/*
 * src/core/crc32.c -- CRC-32 (ISO-HDLC), as zlib's crc32(), faster on
 * x86-64 with PCLMULQDQ.
 *
 * Why not zlib's alone: a migration handover checksums the snapshot twice
 * (save and load), and zlib's table-driven CRC-32 (about 4 GB/s here) cost
 * more than sending the same bytes over a UNIX socket; carry-less
 * multiplication folds 64 bytes per step (Gopal et al., "Fast CRC
 * Computation for Generic Polynomials Using PCLMULQDQ Instruction",
 * Intel 2009; the constants are that paper's for the bit-reflected
 * CRC-32, the same as Linux's crc32-pclmul and Chromium zlib's
 * crc32_simd.c).  Inputs shorter than 64 bytes, the tail after the last
 * 16-byte block, CPUs without PCLMULQDQ/SSE4.1 and other architectures go
 * to zlib.  tests/test_snapshot.c compares the two on every length up to
 * 1 KiB and on large random buffers.
 */
#include <stdbool.h>

#include <zlib.h>

#include "core/crc32.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define CRC_TARGET __attribute__((target("pclmul,sse4.1")))

/* The reflected-domain folding over len bytes (len >= 64, a multiple of
 * 16), crc not inverted (the caller inverts before and after). */
CRC_TARGET static uint32_t
crc32_fold(const uint8_t *buf, size_t len, uint32_t crc)
{
	/* k1 = x^(4*128+32) mod P, k2 = x^(4*128-32) mod P (fold by 4 x 128
	 * bits); k3, k4 the same for 128 bits; k5 for 64 to 32 bits; P' and
	 * mu = x^64 / P for the Barrett reduction -- all bit-reflected. */
	const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
	const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
	const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
	const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
	const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
	__m128i x1, x2, x3, x4, x5, x6, x7, x8;

	x1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)buf), _mm_cvtsi32_si128((int)crc));
	x2 = _mm_loadu_si128((const __m128i *)(buf + 16));
	x3 = _mm_loadu_si128((const __m128i *)(buf + 32));
	x4 = _mm_loadu_si128((const __m128i *)(buf + 48));
	buf += 64;
	len -= 64;
	while (len >= 64) {
		x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
		x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
		x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
		x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
		x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
		x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
		x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
		x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)buf));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, x6),
				   _mm_loadu_si128((const __m128i *)(buf + 16)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, x7),
				   _mm_loadu_si128((const __m128i *)(buf + 32)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, x8),
				   _mm_loadu_si128((const __m128i *)(buf + 48)));
		buf += 64;
		len -= 64;
	}
	/* four lanes into one */
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x2), x5);
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x3), x5);
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), x4), x5);
	while (len >= 16) {
		x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
		x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11),
						 _mm_loadu_si128((const __m128i *)buf)), x5);
		buf += 16;
		len -= 16;
	}
	/* 128 -> 64 bits */
	x2 = _mm_clmulepi64_si128(x1, k3k4, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	/* 64 -> 32 bits */
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5k0, 0x00), x2);
	/* Barrett reduction */
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask32), poly, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static bool
have_pclmul(void)
{
	static int have = -1;

	if (have < 0)
		have = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
	return have != 0;
}

uint32_t
vv_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len >= 64 && have_pclmul()) {
		size_t chunk = len & ~(size_t)15;

		crc = ~crc32_fold(p, chunk, ~crc);
		p += chunk;
		len -= chunk;
	}
	/* zlib takes uInt lengths */
	while (len > 0) {
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

#else

uint32_t
vv_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

#endif
