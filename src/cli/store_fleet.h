/*
 * src/cli/store_fleet.h -- store commands on a fleet store (issue #15,
 * docs/fleet.md "CLI"): a VM of a PostgreSQL database named by
 *
 *   pg:CONNINFO#VM              e.g. pg:host=/run/postgresql dbname=vmvars#vm1
 *   postgresql://...#VM         e.g. postgresql://db.example/vmvars#vm1
 *
 * wherever a command takes a store file.  store_file.c dispatches here.
 * Reading takes nothing; a write takes ownership of the VM for the edit
 * (refused while a daemon holds it) and writes only the rows that differ,
 * in one transaction, and only if nothing was written since the read.
 */
#ifndef VMVARS_CLI_STORE_FLEET_H
#define VMVARS_CLI_STORE_FLEET_H

#include <stdbool.h>

#include "cli/store_file.h"

/* True if text is a fleet-store address. */
bool vv_cli_is_fleet(const char *text);
/* Splits an address: *conninfo and *vm malloc'd.  0 or -1 with err. */
int vv_cli_fleet_split(const char *addr, char **conninfo, char **vm, struct vv_error *err);

/* The address for messages: the conninfo's passwords replaced by ***
 * (vv_pg_redact, docs/fleet.md "Credentials"). */
void vv_cli_fleet_shown(const char *addr, char *out, size_t out_size);

/* vv_store_file_open for a fleet address (sf->format is JSON, the default
 * output format of a conversion). */
int vv_store_fleet_open(struct vv_store_file *sf, const char *addr, bool secure_boot,
			struct vv_error *err);
/* Writes sf's NV content to the fleet address addr (sf's own, or another
 * VM or database: an import).  0 or -1 with err. */
int vv_store_fleet_save(struct vv_store_file *sf, const char *addr, struct vv_error *err);
void vv_store_fleet_close(struct vv_store_file *sf);

#endif
