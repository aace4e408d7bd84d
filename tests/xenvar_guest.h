/*
 * tests/xenvar_guest.h -- the guest side of the varstored wire protocol
 * (XenVariable and ExtVarStore), written from reference peer-services.md
 * §3.2 and §9.2 independently of src/proto/xen.c: it serialises each
 * runtime-service call as the guest driver does and hands the buffer to a
 * transport (the engine directly, the ExtVarStore device, the Xen front
 * end or vmvarsd), then decodes the response from offset 0.
 */
#ifndef VMVARS_TEST_XENVAR_GUEST_H
#define VMVARS_TEST_XENVAR_GUEST_H

#include <stdlib.h>
#include <string.h>

#include <vmvars/vmvars.h>

#define XV_BUF 65536u

/* Runs the request (req_len bytes at the start of buf, which holds size
 * bytes) in place; returns the response length (0: no response, buf
 * unchanged) -- what the transport says came back. */
typedef size_t (*xv_call_fn)(void *ctx, uint8_t *buf, size_t size, size_t req_len);

struct xv_guest {
	enum vv_xenvar_dialect dialect;
	xv_call_fn call;
	void *ctx;
	bool at_runtime;            /* what a Xen guest reports */
	size_t last_len;            /* response length of the last call */
	uint8_t buf[XV_BUF];
};

struct xv_w {
	uint8_t *p;
	size_t off;
};

/* A request that would not fit the 64 KiB buffer is a bug in the test. */
static inline void
xv_room(const struct xv_w *w, size_t n)
{
	if (n > XV_BUF || w->off > XV_BUF - n)
		abort();
}
static inline void xv_u8(struct xv_w *w, uint8_t v) { xv_room(w, 1); w->p[w->off++] = v; }
static inline void xv_u32(struct xv_w *w, uint32_t v) { xv_room(w, 4); vv_put_le32(w->p + w->off, v); w->off += 4; }
static inline void xv_u64(struct xv_w *w, uint64_t v) { xv_room(w, 8); vv_put_le64(w->p + w->off, v); w->off += 8; }
static inline void xv_bytes(struct xv_w *w, const void *b, size_t n)
{
	xv_room(w, n);
	if (n)
		memcpy(w->p + w->off, b, n);
	w->off += n;
}
static inline void
xv_name(struct xv_w *w, const uint16_t *name, size_t len)
{
	xv_u64(w, len * 2);
	xv_room(w, len * 2);
	for (size_t i = 0; i < len; i++)
		vv_put_le16(w->p + w->off + 2 * i, name[i]);
	w->off += len * 2;
}

static inline struct xv_w
xv_start(struct xv_guest *g, uint32_t command)
{
	struct xv_w w = { g->buf, 0 };

	memset(g->buf, 0, sizeof(g->buf));
	xv_u32(&w, 1);
	xv_u32(&w, command);
	return w;
}

static inline void
xv_phase(struct xv_guest *g, struct xv_w *w)
{
	if (g->dialect == VV_XENVAR_XEN)
		xv_u8(w, g->at_runtime);
}

/* Sends; a missing response reads as a status nobody uses. */
static inline vv_status
xv_send(struct xv_guest *g, const struct xv_w *w)
{
	g->last_len = g->call(g->ctx, g->buf, sizeof(g->buf), w->off);
	if (g->last_len < 8)
		return 0xdeadULL;
	return vv_le64(g->buf);
}

static inline vv_status
xv_get(struct xv_guest *g, const uint16_t *name, size_t len, const vv_guid *guid,
       uint32_t *attr, void *data, uint64_t *size)
{
	struct xv_w w = xv_start(g, VV_XENVAR_GET_VARIABLE);
	vv_status st;

	xv_name(&w, name, len);
	xv_bytes(&w, guid->b, 16);
	xv_u64(&w, *size);
	xv_phase(g, &w);
	st = xv_send(g, &w);
	if (st == VV_EFI_SUCCESS) {
		uint64_t n = vv_le64(g->buf + 12);

		if (attr)
			*attr = vv_le32(g->buf + 8);
		if (n <= *size && n <= XV_BUF - 20)
			memcpy(data, g->buf + 20, n);
		*size = n;
	} else if (st == VV_EFI_BUFFER_TOO_SMALL) {
		*size = vv_le64(g->buf + 8);
	}
	return st;
}

static inline vv_status
xv_set(struct xv_guest *g, const uint16_t *name, size_t len, const vv_guid *guid, uint32_t attr,
       const void *data, uint64_t size)
{
	struct xv_w w = xv_start(g, VV_XENVAR_SET_VARIABLE);

	xv_name(&w, name, len);
	xv_bytes(&w, guid->b, 16);
	xv_u64(&w, size);
	xv_bytes(&w, data, size);
	xv_u32(&w, attr);
	xv_phase(g, &w);
	return xv_send(g, &w);
}

/* GetNextVariableName as the UEFI call: *size is the name buffer in bytes,
 * name holds the previous name NUL-terminated ("" to start). */
static inline vv_status
xv_get_next(struct xv_guest *g, uint64_t *size, uint16_t *name, vv_guid *guid)
{
	struct xv_w w = xv_start(g, VV_XENVAR_GET_NEXT_VARIABLE);
	size_t len = 0;
	vv_status st;

	while (name[len] != 0)
		len++;
	xv_u64(&w, *size);
	xv_name(&w, name, len);
	xv_bytes(&w, guid->b, 16);
	xv_phase(g, &w);
	st = xv_send(g, &w);
	if (st == VV_EFI_SUCCESS) {
		uint64_t n = vv_le64(g->buf + 8);

		for (size_t i = 0; i < n / 2; i++)
			name[i] = vv_le16(g->buf + 16 + 2 * i);
		name[n / 2] = 0;
		memcpy(guid->b, g->buf + 16 + n, 16);
	} else if (st == VV_EFI_BUFFER_TOO_SMALL) {
		*size = vv_le64(g->buf + 8);
	}
	return st;
}

static inline vv_status
xv_query(struct xv_guest *g, uint32_t attr, uint64_t *max, uint64_t *rem, uint64_t *maxvar)
{
	struct xv_w w = xv_start(g, VV_XENVAR_QUERY_VARIABLE_INFO);
	vv_status st;

	xv_u32(&w, attr);
	st = xv_send(g, &w);
	if (st == VV_EFI_SUCCESS) {
		*max = vv_le64(g->buf + 8);
		*rem = vv_le64(g->buf + 16);
		*maxvar = vv_le64(g->buf + 24);
	}
	return st;
}

static inline vv_status
xv_simple(struct xv_guest *g, uint32_t command)
{
	struct xv_w w = xv_start(g, command);

	return xv_send(g, &w);
}

/* The guest's ExitBootServices: the Xen driver starts sending
 * at_runtime = 1, the ExtVarStore driver sends ENTER_RUNTIME. */
static inline void
xv_exit_boot_services(struct xv_guest *g)
{
	g->at_runtime = true;
	if (g->dialect == VV_XENVAR_AWS)
		(void)xv_simple(g, VV_XENVAR_ENTER_RUNTIME);
}

/* Transport: the engine itself. */
static inline size_t
xv_call_engine(void *ctx, uint8_t *buf, size_t size, size_t req_len)
{
	(void)req_len;
	return vv_xenvar_handle(ctx, buf, size);
}

#endif
