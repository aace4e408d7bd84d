/*
 * src/daemon/conn.c -- per-connection byte queues.  The poll loop reads
 * into `in` (never beyond in_cap, the largest message the protocol of that
 * socket allows plus its header) and the protocol handlers consume whole
 * messages from its front; replies are queued on `out` and sent when the
 * socket is writable.  Nothing here knows a protocol.
 *
 * Consuming a message only moves `in` forward inside the allocation
 * (in_base, in_size); the unconsumed rest is moved back to the start once,
 * before the next read (conn_in_compact).  Moving it after every message
 * made a buffer of many short management lines cost the square of its
 * length (issue #12: 70,000 lines of 15 bytes in one 1 MiB read).
 *
 * Invariants: in_base <= in; in + in_cap == in_base + in_size;
 * in_len <= in_cap; out_off <= out_len <= out_cap.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn *
conn_new(int fd, enum conn_kind kind, size_t in_cap, unsigned id)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->in_base = malloc(in_cap);
	if (c->in_base == NULL) {
		free(c);
		return NULL;
	}
	c->in = c->in_base;
	c->fd = fd;
	c->kind = kind;
	c->in_cap = c->in_size = in_cap;
	c->partial_since_ms = -1;
	c->out_stalled_since_ms = -1;
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
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	vmm_shm_free(c->shm);
	free(c->in_base);
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

/* One whole message has been handled: the frame timer (server.c
 * check_deadlines) restarts for what follows it, whose first byte came
 * no earlier than this message's last; nothing left, no timer. */
void
conn_consume(struct conn *c, size_t n)
{
	if (n >= c->in_len) {
		c->in = c->in_base;
		c->in_cap = c->in_size;
		c->in_len = 0;
		c->partial_since_ms = -1;
		return;
	}
	c->in += n;
	c->in_cap -= n;
	c->in_len -= n;
	c->partial_since_ms = now_ms();
}

void
conn_in_compact(struct conn *c)
{
	if (c->in == c->in_base)
		return;
	memmove(c->in_base, c->in, c->in_len);
	c->in = c->in_base;
	c->in_cap = c->in_size;
}

int
conn_in_resize(struct conn *c, size_t size)
{
	uint8_t *p;

	if (size < c->in_len)
		return -1;
	conn_in_compact(c);
	p = realloc(c->in_base, size);
	if (p == NULL)
		return -1;
	c->in_base = c->in = p;
	c->in_size = c->in_cap = size;
	return 0;
}

bool
conn_in_full(const struct conn *c)
{
	return c->in_len == c->in_size;
}

size_t
conn_out_queued(const struct conn *c)
{
	return c->out_len - c->out_off;
}

bool
conn_out_pending(const struct conn *c)
{
	return c->out_off < c->out_len;
}
