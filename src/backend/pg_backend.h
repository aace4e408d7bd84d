/*
 * src/backend/pg_backend.h -- the fleet store (issue #15, docs/fleet.md):
 * one VM's NV variables in a PostgreSQL database that many hosts share,
 * one row per variable, with ownership fenced by an epoch.
 *
 * Internal (not in include/vmvars/): it is what links libpq, and
 * libvmvars.so does not; vmvarsd, the CLI, the tests and the bench link
 * the vmvars_pg library built from src/backend/pg_*.c.  It is a
 * struct vv_backend like the others: the store neither knows nor cares.
 *
 * Ownership.  A backend opened to write (VV_PG_OWN) raises the VM's epoch
 * in the load's own transaction and remembers it; every commit is one
 * transaction that updates the VM row only WHERE epoch = ours, so once
 * another opener has raised it, our next commit changes nothing and fails
 * ("fenced"); from then on every commit fails at once.  VV_PG_LATER loads
 * without taking ownership (a migration destination) until
 * vv_pg_take_ownership.  VV_PG_EDIT (offline edits) takes ownership only
 * from a VM that no daemon holds; VV_PG_READ never writes.
 */
#ifndef VV_BACKEND_PG_BACKEND_H
#define VV_BACKEND_PG_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include <vmvars/backend.h>

/* The schema this code reads and writes (docs/fleet.md "Versions"). */
#define VV_PG_SCHEMA_VERSION 1
/* Longest VM name (the vm row's CHECK). */
#define VV_PG_VM_NAME_MAX 255

enum vv_pg_mode {
	VV_PG_READ,     /* load only; commits fail */
	VV_PG_OWN,      /* take ownership at load (raise the epoch): vmvarsd */
	VV_PG_LATER,    /* load without it; vv_pg_take_ownership later */
	VV_PG_EDIT,     /* take ownership at load unless a daemon holds it */
};

struct vv_pg_options {
	const char *conninfo;           /* libpq conninfo or postgresql:// URI */
	const char *vm_name;            /* the VM row's name */
	const vv_guid *vm_uuid;         /* NULL, or checked against / recorded in the row */
	enum vv_pg_mode mode;
	bool create;                    /* a missing VM row is created (empty store) */
	bool force;                     /* VV_PG_EDIT: take it even from a holder */
};

struct vv_backend *vv_pg_backend_new(const struct vv_pg_options *o, struct vv_error *err);
/* True if b is a fleet-store backend. */
bool vv_pg_backend_is(const struct vv_backend *b);

/* What the management API shows (docs/management.md "stats"). */
struct vv_pg_status {
	int64_t vm_id, epoch, nv_generation;
	bool owner;                     /* we hold the epoch we last raised */
	bool connected;
	bool fenced;
	char fenced_by[256];            /* who took it ("" unless fenced) */
	uint64_t reconnects;            /* successful reconnections */
	uint64_t retries;               /* statements sent again after a fault */
	uint64_t unknown_outcomes;      /* COMMITs resolved by the NV generation */
	bool in_doubt;                  /* a refused write's outcome is not known yet */
	char server[160];               /* the conninfo without secrets */
};
void vv_pg_backend_status(struct vv_backend *b, struct vv_pg_status *st);
/* Just whether it was fenced (cheap: vmvarsd asks after every request). */
bool vv_pg_backend_fenced(const struct vv_backend *b);

/*
 * Migration destination (docs/migration.md, docs/fleet.md "Hand-over"),
 * in two steps around the volatile-only snapshot's load:
 * vv_pg_refresh (VV_PG_LATER, before): the store's NV content becomes the
 *   database's as it is now, its volatile variables stay; nothing is
 *   taken.  0 or -1 with err (the store is then unchanged).
 * vv_pg_take_ownership (after): raises the epoch -- which fences the
 *   source -- only if no NV write happened since the refresh; else -1
 *   with err and nothing taken.
 */
int vv_pg_refresh(struct vv_backend *b, struct vv_store *s, struct vv_error *err);
int vv_pg_take_ownership(struct vv_backend *b, struct vv_error *err);

/*
 * Where the connection goes, for the sandbox (docs/fleet.md "Sandbox"):
 * a UNIX socket's directory (*port its port, *unix_socket true) or a TCP
 * host and port.  0, or -1 when not connected.
 */
int vv_pg_backend_endpoint(struct vv_backend *b, char *host, size_t host_size, int *port,
			   bool *unix_socket);
/* The VM row's name. */
const char *vv_pg_backend_vm(struct vv_backend *b);

/* Clean stop: clears the owner description (the epoch stays) so that an
 * offline edit may take the VM; a no-op unless we own it. */
void vv_pg_release(struct vv_backend *b);

/* The conninfo with password= and the URI's password removed, for logs
 * (*out, out_size bytes, always terminated). */
void vv_pg_redact(const char *conninfo, char *out, size_t out_size);

/* Schema management (`vmvars db init|upgrade`): creates the tables, or
 * upgrades them to VV_PG_SCHEMA_VERSION, in one transaction.  *from is the
 * version found (0: none).  0 or -1 with err. */
int vv_pg_schema_upgrade(const char *conninfo, bool init_only, int *from, struct vv_error *err);

/* `vmvars db list`: calls fn for each VM (ordered by name) with its
 * epoch, generation, owner ("" if none) and the data of its SecureBoot-
 * relevant variables (PK present, SecureBootEnable, SetupMode ...
 * docs/fleet.md); one query.  0 or -1 with err. */
struct vv_pg_vm_info {
	const char *name;
	const char *uuid;               /* "" if none */
	int64_t epoch, nv_generation, variables;
	const char *owner;              /* "" if none */
	bool has_pk;
	int secure_boot_enable;         /* -1: absent */
};
int vv_pg_list_vms(const char *conninfo, void (*fn)(void *ctx, const struct vv_pg_vm_info *vm),
		   void *ctx, struct vv_error *err);

#endif /* VV_BACKEND_PG_BACKEND_H */
