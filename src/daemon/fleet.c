/*
 * src/daemon/fleet.c -- vmvarsd on the fleet store (issue #15,
 * docs/fleet.md): the VM's NV variables in PostgreSQL, ownership fenced
 * by an epoch.  The backend (src/backend/pg_backend.c) does the work; this
 * file decides when the daemon takes ownership, says when it lost it, and
 * tells the sandbox which database to keep reachable.
 *
 * When ownership is taken:
 *   at start (vm_open's load), unless --incoming: the second daemon on a
 *     VM wins and the first is fenced at its next write;
 *   with --incoming, at the migrated state's load only (the hand-over:
 *     after the volatile-only snapshot is in, which fences the source);
 *     not at a VM reset, which QEMU sends an incoming machine too.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "backend/pg_backend.h"
#include "daemon.h"

struct vv_backend *
fleet_backend_new(const struct vm_config *cfg, struct vv_error *err)
{
	struct vv_pg_options o = {
		.conninfo = cfg->fleet_conninfo,
		.vm_name = cfg->fleet_vm,
		.vm_uuid = NULL,
		.mode = cfg->read_only ? VV_PG_READ : cfg->incoming ? VV_PG_LATER : VV_PG_OWN,
		.create = true,
	};
	static const uint8_t zero[16];
	char shown[160];

	if (memcmp(cfg->vm_id, zero, sizeof(zero)) != 0)
		o.vm_uuid = (const vv_guid *)cfg->vm_id;
	/* never the password (docs/fleet.md "Credentials") */
	vv_pg_redact(cfg->fleet_conninfo, shown, sizeof(shown));
	log_info("fleet store %s, VM %s (%s)", shown, cfg->fleet_vm,
		 o.mode == VV_PG_READ ? "read only" : o.mode == VV_PG_LATER ?
		 "ownership at the migrated state's load" : "taking ownership");
	return vv_pg_backend_new(&o, err);
}

void
fleet_after_request(struct vm *vm)
{
	struct vv_pg_status st;

	if (vm->fleet == NULL || vm->fleet_fence_logged || !vv_pg_backend_fenced(vm->fleet))
		return;
	vv_pg_backend_status(vm->fleet, &st);
	vm->fleet_fence_logged = true;
	log_error("fleet store: VM %s was taken over: %s; this daemon accepts no NV write from "
		  "now on (the guest gets EFI_DEVICE_ERROR)", vv_pg_backend_vm(vm->fleet),
		  st.fenced_by);
}

int
fleet_before_load_state(struct vm *vm, struct vv_error *err)
{
	struct vv_pg_status st;

	if (vm->fleet == NULL)
		return 0;
	vv_pg_backend_status(vm->fleet, &st);
	if (st.owner)
		return 0;
	return vv_pg_refresh(vm->fleet, vm->store, err);
}

int
fleet_after_load_state(struct vm *vm, struct vv_error *err)
{
	struct vv_pg_status st;

	if (vm->fleet == NULL)
		return 0;
	if (vv_pg_take_ownership(vm->fleet, err) != 0)
		return -1;
	vv_pg_backend_status(vm->fleet, &st);
	log_info("fleet store: VM %s is ours (epoch %lld)%s%s", vv_pg_backend_vm(vm->fleet),
		 (long long)st.epoch, st.fenced_by[0] ? ": " : "", st.fenced_by);
	return 0;
}

static void
add_i64(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

void
fleet_stats(struct vm *vm, struct json_object *out)
{
	struct json_object *o = json_object_new_object();
	struct vv_pg_status st;

	if (vm->fleet == NULL) {
		json_object_object_add(o, "backend", json_object_new_string("journal"));
		json_object_object_add(out, "store", o);
		return;
	}
	vv_pg_backend_status(vm->fleet, &st);
	json_object_object_add(o, "backend", json_object_new_string("postgresql"));
	json_object_object_add(o, "server", json_object_new_string(st.server));
	json_object_object_add(o, "vm", json_object_new_string(vv_pg_backend_vm(vm->fleet)));
	add_i64(o, "epoch", st.epoch);
	add_i64(o, "nv_generation", st.nv_generation);
	json_object_object_add(o, "owner", json_object_new_boolean(st.owner));
	json_object_object_add(o, "connected", json_object_new_boolean(st.connected));
	json_object_object_add(o, "fenced", json_object_new_boolean(st.fenced));
	json_object_object_add(o, "fenced_by", json_object_new_string(st.fenced_by));
	add_i64(o, "reconnects", (int64_t)st.reconnects);
	add_i64(o, "retries", (int64_t)st.retries);
	add_i64(o, "unknown_outcomes", (int64_t)st.unknown_outcomes);
	json_object_object_add(o, "in_doubt", json_object_new_boolean(st.in_doubt));
	json_object_object_add(out, "store", o);
}

void
fleet_sandbox(struct vm *vm, struct sandbox_config *sb)
{
	bool unix_socket;
	int port;

	if (vm->fleet == NULL)
		return;
	sb->db = true;
	if (vv_pg_backend_endpoint(vm->fleet, sb->db_unix, sizeof(sb->db_unix), &port,
				   &unix_socket) != 0) {
		sb->db_unix[0] = '\0';
		return;
	}
	if (!unix_socket) {
		sb->db_unix[0] = '\0';
		sb->db_tcp_port = port;
	}
}

void
fleet_release(struct vm *vm)
{
	if (vm->fleet != NULL)
		vv_pg_release(vm->fleet);
}
