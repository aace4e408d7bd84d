/*
 * src/auth/siglist.h -- EFI_SIGNATURE_LIST databases (the values of PK,
 * KEK, db, dbx, dbt, dbr; varstore-formats §9.1-§9.2): the layout is in
 * vmvars/sigdb.h.
 */
#ifndef VMVARS_SIGLIST_H
#define VMVARS_SIGLIST_H

/* The public part (validate, for_each_x509, filter_append, count) is
 * vmvars/sigdb.h, which tools use; this header adds what only the
 * service needs. */
#include <vmvars/sigdb.h>

/* vv_siglist_validate, remembering valid certificates in `seen`
 * (pkcs7.h), so a database written again is not decoded again. */
struct vv_x509_seen;
vv_status vv_siglist_validate_seen(const uint8_t *db, size_t size, size_t max_signatures,
				   struct vv_x509_seen *seen);

#endif
