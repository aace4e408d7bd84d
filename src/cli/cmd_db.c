/*
 * src/cli/cmd_db.c -- `vmvars db`: the fleet store's database (issue #15,
 * docs/fleet.md): create or upgrade its schema, list its VMs with their
 * Secure Boot state (one query for the whole fleet).
 */
#include <stdlib.h>
#include <string.h>

#include "backend/pg_backend.h"
#include "cli/cli.h"

void
vv_cmd_db_help(FILE *out)
{
	fprintf(out,
"usage: vmvars db init DATABASE\n"
"       vmvars db upgrade DATABASE\n"
"       vmvars db list DATABASE\n"
"\n"
"The fleet store (docs/fleet.md): VM variables in a PostgreSQL database.\n"
"DATABASE is a libpq conninfo (\"host=/run/postgresql dbname=vmvars\"), a\n"
"postgresql:// URI, or either after \"pg:\".  Passwords belong in the passfile\n"
"(PGPASSFILE, ~/.pgpass) or the service file (PGSERVICEFILE), not here.\n"
"\n"
"  init     create the schema (version %d) in an empty database\n"
"  upgrade  bring the schema to version %d (nothing if it is there)\n"
"  list     every VM: name, UUID, epoch, NV generation, variables, Secure\n"
"           Boot state (PK enrolled: user mode; none: setup mode) and the\n"
"           daemon that holds it\n"
"\n"
"A VM is addressed by the store commands as DATABASE#VM, e.g.\n"
"  vmvars list 'pg:host=/run/postgresql dbname=vmvars#vm1'\n"
"  vmvars convert 'pg:dbname=vmvars#vm1' vm1.json     (export)\n"
"  vmvars convert vm1.fd 'pg:dbname=vmvars#vm1'       (import)\n",
		VV_PG_SCHEMA_VERSION, VV_PG_SCHEMA_VERSION);
}

/* Text from the database goes to a terminal: control characters (an
 * escape sequence in a VM name) become '?'. */
static const char *
printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void
print_vm(void *ctx, const struct vv_pg_vm_info *vm)
{
	char name[256], owner[256];

	(void)ctx;
	printf("%-24s %-36s %6lld %8lld %5lld  %-28s %s\n",
	       printable(vm->name, name, sizeof(name)), vm->uuid[0] ? vm->uuid : "-",
	       (long long)vm->epoch, (long long)vm->nv_generation, (long long)vm->variables,
	       vm->has_pk ? (vm->secure_boot_enable == 0 ? "user mode, SecureBootEnable 0"
			     : "user mode (PK enrolled)") : "setup mode (no PK)",
	       vm->owner[0] ? printable(vm->owner, owner, sizeof(owner)) : "-");
}

int
vv_cmd_db(int argc, char **argv)
{
	struct vv_error err = { { 0 } };
	const char *ci;
	int from;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		vv_cmd_db_help(stdout);
		return VV_EXIT_OK;
	}
	if (argc != 3)
		return vv_cli_fail(VV_EXIT_USAGE, "db", "usage: vmvars db init|upgrade|list DATABASE");
	ci = strncmp(argv[2], "pg:", 3) == 0 ? argv[2] + 3 : argv[2];
	if (strcmp(argv[1], "init") == 0 || strcmp(argv[1], "upgrade") == 0) {
		bool init = strcmp(argv[1], "init") == 0;

		if (vv_pg_schema_upgrade(ci, init, &from, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, "db", "%s", err.msg);
		if (from == VV_PG_SCHEMA_VERSION)
			printf("schema version %d: up to date\n", from);
		else
			printf("schema version %d%s%s\n", VV_PG_SCHEMA_VERSION, from ? " (was " : "",
			       from ? "older)" : " created");
		return VV_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0) {
		printf("%-24s %-36s %6s %8s %5s  %-28s %s\n", "VM", "UUID", "EPOCH", "NV-GEN", "VARS",
		       "SECURE BOOT", "OWNER");
		if (vv_pg_list_vms(ci, print_vm, NULL, &err) != 0)
			return vv_cli_fail(VV_EXIT_FAIL, "db", "%s", err.msg);
		return VV_EXIT_OK;
	}
	return vv_cli_fail(VV_EXIT_USAGE, "db", "unknown action %s (init, upgrade, list)", argv[1]);
}
