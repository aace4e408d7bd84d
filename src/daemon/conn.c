/*
 * src/daemon/conn.c -- per-connection byte queues.  The poll loop reads
 * into `in` (never beyond in_cap, the largest message the protocol of that
 * socket allows plus its header) and the protocol handlers consume whole
 * messages from its front; replies are queued on `out` and sent when the
 * socket is writable.  Nothing here knows a protocol.
 *
 * Invariants: in_len <= in_cap; out_off <= out_len <= out_cap.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

struct conn *
conn_new(int fd, enum conn_kind kind, size_t in_cap, unsigned id)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->in = malloc(in_cap);
	if (c->in == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->kind = kind;
	c->in_cap = in_cap;
	c->partial_since_ms = -1;
	c->id = id;
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

int
conn_queue(struct conn *c, const void *data, size_t len)
{
	size_t need;

	/* Compact first: sent bytes at the front are dead. */
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > SIZE_MAX - c->out_len)
		return -1;
	need = c->out_len + len;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

void
conn_consume(struct conn *c, size_t n)
{
	if (n >= c->in_len) {
		c->in_len = 0;
		return;
	}
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

bool
conn_out_pending(const struct conn *c)
{
	return c->out_off < c->out_len;
}
