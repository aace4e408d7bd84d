/*
 * src/cli/refusal.c -- the text of a refused SetVariable: the EFI status
 * and why (vv_store_last_refusal: the rule, the policy or the limit), so
 * no command stops at a bare EFI_INVALID_PARAMETER (issue #17 item 5).
 */
#include <stdio.h>

#include <vmvars/store.h>

#include "cli/cli.h"

const char *
vv_cli_why(const struct vv_store *s, vv_status st)
{
	static char text[700];
	const char *why = s != NULL ? vv_store_last_refusal(s) : "";

	if (st == VV_EFI_DEVICE_ERROR && s != NULL && vv_store_last_io_error(s)[0] != '\0')
		why = vv_store_last_io_error(s);
	if (why[0] == '\0')
		snprintf(text, sizeof(text), "%s", vv_status_name(st));
	else
		snprintf(text, sizeof(text), "%s: %s", vv_status_name(st), why);
	return text;
}
