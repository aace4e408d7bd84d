/*
 * src/cli/store_fleet.c -- store commands on a fleet store (store_fleet.h,
 * docs/fleet.md "CLI").  The store is read through the PostgreSQL backend
 * without ownership and then held in memory like any store file; a save
 * opens the VM for an edit (VV_PG_EDIT: the epoch raised, refused while a
 * daemon holds the VM) and commits the edited NV content as one
 * whole-store commit, which writes only the rows that differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/pg_backend.h"
#include "cli/store_fleet.h"

struct vv_fleet_ref {
	char *addr;
	int64_t gen;            /* the VM's nv_generation when read; -1: no such VM */
};

bool
vv_cli_is_fleet(const char *text)
{
	return text != NULL && (strncmp(text, "pg:", 3) == 0 ||
				strncmp(text, "postgresql://", 13) == 0 ||
				strncmp(text, "postgres://", 11) == 0);
}

int
vv_cli_fleet_split(const char *addr, char **conninfo, char **vm, struct vv_error *err)
{
	const char *body = strncmp(addr, "pg:", 3) == 0 ? addr + 3 : addr;
	const char *hash = strrchr(body, '#');

	*conninfo = *vm = NULL;
	if (hash == NULL || hash[1] == '\0')
		return vv_error_set(err, "a fleet store is pg:CONNINFO#VM or postgresql://...#VM "
				    "(the VM's name after '#')");
	*conninfo = strndup(body, (size_t)(hash - body));
	*vm = strdup(hash + 1);
	if (*conninfo == NULL || *vm == NULL) {
		free(*conninfo);
		free(*vm);
		return vv_error_set(err, "out of memory");
	}
	return 0;
}

void
vv_cli_fleet_shown(const char *addr, char *out, size_t out_size)
{
	bool pg = strncmp(addr, "pg:", 3) == 0;
	const char *body = pg ? addr + 3 : addr, *hash = strrchr(body, '#');
	char *ci = strndup(body, hash != NULL ? (size_t)(hash - body) : strlen(body));
	char shown[512];

	if (ci == NULL) {
		snprintf(out, out_size, "a fleet store");
		return;
	}
	vv_pg_redact(ci, shown, sizeof(shown));
	explicit_bzero(ci, strlen(ci));
	free(ci);
	snprintf(out, out_size, "%s%s%s", pg ? "pg:" : "", shown, hash != NULL ? hash : "");
}

/* Loads the VM through a backend of mode into s (without attaching it);
 * *b gets the backend.  0 or -1 with err. */
static int
load_vm(const char *addr, enum vv_pg_mode mode, bool create, struct vv_store *s,
	struct vv_backend **b, struct vv_error *err)
{
	char *ci, *vm;
	struct vv_pg_options o;

	if (vv_cli_fleet_split(addr, &ci, &vm, err) != 0)
		return -1;
	memset(&o, 0, sizeof(o));
	o.conninfo = ci;
	o.vm_name = vm;
	o.mode = mode;
	o.create = create;
	o.force = getenv("VMVARS_FLEET_FORCE") != NULL;
	*b = vv_pg_backend_new(&o, err);
	free(ci);
	free(vm);
	if (*b == NULL)
		return -1;
	if ((*b)->ops->load(*b, s, err) != 0) {
		(*b)->ops->destroy(*b);
		*b = NULL;
		return -1;
	}
	return 0;
}

int
vv_store_fleet_open(struct vv_store_file *sf, const char *addr, bool secure_boot,
		    struct vv_error *err)
{
	struct vv_backend *b;
	struct vv_pg_status st;

	if (vv_store_file_empty(sf, false, err) != 0)
		return -1;
	sf->fleet = calloc(1, sizeof(*sf->fleet));
	sf->path = strdup(addr);
	if (sf->fleet == NULL || sf->path == NULL || (sf->fleet->addr = strdup(addr)) == NULL) {
		vv_store_file_close(sf);
		return vv_error_set(err, "out of memory");
	}
	sf->format = VV_FORMAT_JSON;
	if (load_vm(addr, VV_PG_READ, false, sf->store, &b, err) != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	vv_pg_backend_status(b, &st);
	sf->fleet->gen = st.nv_generation;
	b->ops->destroy(b);
	if (secure_boot && (sf->sb = vv_secureboot_new(sf->store, NULL)) == NULL) {
		vv_store_file_close(sf);
		return vv_error_set(err, "cannot attach Secure Boot (out of memory)");
	}
	return 0;
}

int
vv_store_fleet_save(struct vv_store_file *sf, const char *addr, struct vv_error *err)
{
	struct vv_store *now = vv_store_new(vv_store_limits(sf->store));
	struct vv_backend *b;
	struct vv_pg_status st;
	bool same = sf->fleet != NULL && strcmp(addr, sf->fleet->addr) == 0;
	char shown[600];
	int rc;

	if (now == NULL)
		return vv_error_set(err, "out of memory");
	/* the VM as it is now, ours for the edit */
	if (load_vm(addr, VV_PG_EDIT, true, now, &b, err) != 0) {
		vv_store_free(now);
		return -1;
	}
	vv_store_free(now);
	vv_pg_backend_status(b, &st);
	vv_cli_fleet_shown(addr, shown, sizeof(shown));
	if (same && st.nv_generation != sf->fleet->gen) {
		b->ops->destroy(b);
		return vv_error_set(err, "%s: written since it was read (generation %lld, read "
				    "at %lld); nothing changed, run the command again", shown,
				    (long long)st.nv_generation, (long long)sf->fleet->gen);
	}
	/* one whole-store commit: the rows that differ, or all in store order */
	vv_store_set_backend(sf->store, b);
	rc = vv_store_flush(sf->store, err);
	vv_store_set_backend(sf->store, NULL);        /* releases the VM */
	if (rc != 0)
		vv_error_prefix(err, "%s", shown);
	return rc;
}

void
vv_store_fleet_close(struct vv_store_file *sf)
{
	if (sf->fleet != NULL)
		free(sf->fleet->addr);
	free(sf->fleet);
	sf->fleet = NULL;
}
