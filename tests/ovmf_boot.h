/*
 * tests/ovmf_boot.h -- the recorded real OVMF boot: every MM request one
 * OVMF boot sent, in order (shared/data/ovmf-boot/requests.jsonl, one JSON
 * object a line with the request's bytes in hex; see the README there).
 * tests/test_ovmf_replay.c, tests/test_migration.c and
 * tests/test_qemu_device.c replay it.
 */
#ifndef VMVARS_TEST_OVMF_BOOT_H
#define VMVARS_TEST_OVMF_BOOT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <vmvars/vmvars.h>

#include "harness.h"

struct ovmf_boot {
	uint8_t **req;          /* request i: req[i], len[i] bytes */
	size_t *len;
	size_t n;
};

static inline size_t
hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return n;
}

/*
 * Reads every request of the recording.  Without ../shared/data (or
 * $VMVARS_SHARED_DATA), or without the recording in it, the case SKIPs
 * (a failure under VMVARS_NO_SKIP); a line that is not a request of at
 * least 24 bytes, or no request at all, fails it.
 */
static inline void
ovmf_boot_load(struct ovmf_boot *r)
{
	const char *data = vv_test_shared_data();
	static uint8_t buf[VV_MM_MAX_BUFFER];
	char path[4096], *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(r, 0, sizeof(*r));
	if (data == NULL)
		SKIP("../shared/data not present (interop vectors absent in this clone)");
	snprintf(path, sizeof(path), "%s/ovmf-boot/requests.jsonl", data);
	if ((f = fopen(path, "r")) == NULL)
		SKIP("ovmf-boot/requests.jsonl not present");
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *hex;
		size_t len;

		REQUIRE(o != NULL && json_object_object_get_ex(o, "request", &hex));
		len = hex_decode(json_object_get_string(hex), buf, sizeof(buf));
		json_object_put(o);
		REQUIRE(len >= 24);
		r->req = realloc(r->req, (r->n + 1) * sizeof(*r->req));
		r->len = realloc(r->len, (r->n + 1) * sizeof(*r->len));
		REQUIRE(r->req != NULL && r->len != NULL);
		r->req[r->n] = malloc(len);
		REQUIRE(r->req[r->n] != NULL);
		memcpy(r->req[r->n], buf, len);
		r->len[r->n++] = len;
	}
	free(line);
	fclose(f);
	REQUIRE(r->n > 0);
}

static inline void
ovmf_boot_free(struct ovmf_boot *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->req[i]);
	free(r->req);
	free(r->len);
	memset(r, 0, sizeof(*r));
}

#endif
