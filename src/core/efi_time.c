/*
 * src/core/efi_time.c -- EFI_TIME values the host makes itself (the time
 * of host-side enrollments and signatures): UTC, Year..Second only, every
 * other field zero (varstore-formats §8.4, §9.3).
 */
#include <string.h>
#include <time.h>

#include <vmvars/efi.h>

void
vv_efi_time_from_tm(const struct tm *tm, vv_efi_time *t)
{
	memset(t, 0, sizeof(*t));
	vv_put_le16(t->b, (uint16_t)(tm->tm_year + 1900));
	t->b[2] = (uint8_t)(tm->tm_mon + 1);
	t->b[3] = (uint8_t)tm->tm_mday;
	t->b[4] = (uint8_t)tm->tm_hour;
	t->b[5] = (uint8_t)tm->tm_min;
	t->b[6] = (uint8_t)tm->tm_sec;
}

void
vv_efi_time_now(vv_efi_time *t)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	vv_efi_time_from_tm(&tm, t);
}
