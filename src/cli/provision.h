/*
 * src/cli/provision.h -- one-shot Secure Boot provisioning of a new store
 * (`vmvars create --pk CERT --microsoft GEN --dbx ARCH`, `--keys-from
 * TEMPLATE`; provision.c says what goes where).
 */
#ifndef VMVARS_CLI_PROVISION_H
#define VMVARS_CLI_PROVISION_H

#include <stdbool.h>

#include <vmvars/efi.h>
#include <vmvars/error.h>

struct vv_store_file;

struct vv_provision {
	const char *pk_cert;    /* PEM or DER; also the first KEK entry */
	vv_guid owner;          /* of the PK/KEK entry */
	bool owner_set;         /* --owner given (else OvmfEnrollDefaultKeys) */
	bool ms_2011, ms_2023;  /* Microsoft's KEK/db generations */
	const char *dbx_arch;   /* Microsoft's newest dbx for it; NULL: none */
	const char *keys_from;  /* a distribution's enrolled store */
	const char *ms_data;    /* NULL: $VMVARS_MS_DATA or the installed set */
};

/* Enrolls into sf (opened with Secure Boot attached), checks that Secure
 * Boot would be enforced.  0, or -1 with err (sf then must not be saved). */
int vv_provision(struct vv_store_file *sf, const struct vv_provision *p, struct vv_error *err);

#endif
