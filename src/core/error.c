/*
 * src/core/error.c -- filling struct vv_error (vmvars/error.h).
 *
 * Invariant: after any call msg is NUL-terminated and at most
 * sizeof(msg) - 1 bytes; overlong text is truncated, never overflowed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <vmvars/error.h>

int
vv_error_set(struct vv_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Appends text at msg[*used], keeping msg NUL-terminated within cap. */
static void
append_truncated(char *msg, size_t cap, size_t *used, const char *text)
{
	size_t room = cap - 1 - *used, n = strlen(text);

	if (n > room)
		n = room;
	memcpy(msg + *used, text, n);
	*used += n;
	msg[*used] = '\0';
}

void
vv_error_prefix(struct vv_error *err, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	size_t cap = sizeof(err->msg), n;
	va_list ap;
	int r;

	if (err == NULL)
		return;
	/* Copy first: the old message becomes the tail of the new one. */
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	r = vsnprintf(err->msg, cap, fmt, ap);
	va_end(ap);
	if (r < 0)
		err->msg[0] = '\0';
	n = r < 0 ? 0 : (size_t)r;
	if (n >= cap - 1)
		return; /* the prefix alone fills the message */
	/* Append ": " and the old text, truncating at the end of msg. */
	append_truncated(err->msg, cap, &n, ": ");
	append_truncated(err->msg, cap, &n, old);
}
