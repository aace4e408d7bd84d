/*
 * src/cli/live.h -- the CLI on a running VM: a store "file" that is
 * vmvarsd's live store, reached through its management socket
 * (docs/cli.md "Live VMs", docs/management.md "dump" and "batch").
 *
 * Addresses: "vm:NAME" (the socket of vmvarsd@NAME:
 * $VMVARS_STATE_DIR/NAME/mgmt.sock, default /var/lib/vmvars, else
 * /run/vmvars/NAME/mgmt.sock of vmvarsd-mgmt@NAME.socket) and
 * "socket:PATH".  main.c turns --vm NAME and --socket PATH into them.
 */
#ifndef VMVARS_CLI_LIVE_H
#define VMVARS_CLI_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include <vmvars/store.h>

struct vv_live;

/* True if path is a live address rather than a file. */
bool vv_live_is_address(const char *path);

/* Connects and reads the live NV content into the empty store *s, which
 * is replaced by one with the daemon's limits (and the same phase) when
 * they differ; nothing may be attached to it yet.  *live keeps the
 * connection and what was read.  0, or -1 with err. */
int vv_live_load(const char *addr, struct vv_store **s, struct vv_live **live,
		 struct vv_error *err);

/*
 * Sends what s changed since it was read as one atomic batch, each change
 * conditional on the variable being as read.  *changes: how many (0: nothing
 * sent).  0 once the daemon made them durable, or -1 with err (the daemon's
 * reason: nothing changed).
 */
int vv_live_save(struct vv_live *live, const char *addr, const struct vv_store *s,
		 size_t *changes, struct vv_error *err);

void vv_live_close(struct vv_live *live);

/* If store_path's lock is held by vmvarsd, replaces err with the refusal
 * that names the daemon and the --vm / --socket form to use instead. */
void vv_live_lock_hint(const char *store_path, struct vv_error *err);

#endif
