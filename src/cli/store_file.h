/*
 * src/cli/store_file.h -- what every store-handling subcommand shares: a
 * store file opened into a vv_store (any format, vmvars/formats.h), Secure
 * Boot attached when the command edits or judges keys, saved back
 * atomically; parsing of names, GUIDs, attributes and values on the command
 * line; and the decoders that turn variable values into text
 * (decode_siglist.c, decode_devpath.c).
 *
 * Invariant: a command never writes the user's file unless the whole
 * operation succeeded, and then only through vv_store_file_write (the
 * store's lock, then the atomic replace of core/file_replace.h: temp file
 * + rename, the file's identity kept), so a failure leaves the file byte
 * for byte as it was.  Commands that only
 * read a store take no lock.
 *
 * A JSON store with a journal beside it (PATH.journal, vmvarsd's
 * journaled backend, docs/architecture.md "Persistence") is the snapshot
 * PATH with the journal replayed onto it, and every command sees it so:
 * after vmvarsd was killed the journal holds acknowledged writes that PATH
 * does not.  A write folds the journal in first (below), so PATH ends up
 * holding everything and the journal empty, and the old journal is never
 * replayed over the new content.
 */
#ifndef VMVARS_CLI_STORE_FILE_H
#define VMVARS_CLI_STORE_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include <vmvars/formats.h>
#include <vmvars/secureboot.h>
#include <vmvars/store.h>

/* An opened store file. */
struct vv_store_file {
	char *path;
	enum vv_format format;         /* detected or given */
	struct vv_store *store;
	struct vv_secureboot *sb;      /* NULL unless opened with secure_boot */
	uint8_t *raw;                  /* the file's bytes (template for fd saves) */
	size_t raw_size;
	/* A JSON store read with its journal (PATH.journal existed): the
	 * store is raw (NULL when snapshot_missing: a daemon that never
	 * compacted) with jraw replayed onto it, as vmvarsd loads it. */
	bool journaled;
	bool snapshot_missing;
	uint8_t *jraw;                 /* the journal's bytes as read */
	size_t jraw_size;
	size_t jgood;                  /* its good records (jraw_size minus a torn tail) */
	/* A running VM's store (path "vm:NAME" or "socket:PATH", live.h):
	 * read through its daemon, saved back as one atomic batch. */
	struct vv_live *live;
	/* A fleet-store address (store_fleet.h), else NULL. */
	struct vv_fleet_ref *fleet;
};

/*
 * Opens path (format f, or detected when VV_FORMAT_UNKNOWN) into a fresh
 * store with limits large enough for any real store.  A JSON store with
 * PATH.journal beside it (a regular file, not a symlink) is read as
 * vmvarsd reads it: the journal replayed onto the snapshot, a torn last
 * record dropped with a warning on stderr, any other bad record an error
 * naming the journal and the byte offset; PATH itself may then be missing.
 * Nothing is written and no lock is taken.  With secure_boot the
 * Secure Boot service is attached (vmvars/secureboot.h): it derives the
 * mode and adds the variables edk2 creates at power-on (SecureBootEnable,
 * CustomMode, VendorKeysNv), exactly as the guest would see them.
 * Returns 0, or -1 with err naming the file.
 */
int vv_store_file_open(struct vv_store_file *sf, const char *path, enum vv_format f,
		       bool secure_boot, struct vv_error *err);

/* An empty store (create from scratch), optionally with Secure Boot. */
int vv_store_file_empty(struct vv_store_file *sf, bool secure_boot, struct vv_error *err);

/*
 * Serialises the store in format f (sf->format when UNKNOWN) and writes it
 * atomically to out_path (sf->path when NULL).  For fd output the template
 * is tmpl when given, else the file's own bytes when it was an fd image.
 * Lines of the format's report (what the target cannot hold) go to stderr
 * prefixed with "warning: ".  0 or -1 with err.
 */
int vv_store_file_save(struct vv_store_file *sf, const char *out_path, enum vv_format f,
		       const uint8_t *tmpl, size_t tmpl_size, struct vv_error *err);

void vv_store_file_close(struct vv_store_file *sf);

/*
 * How the command's writes treat the target (docs/cli.md "How vmvars
 * writes a file").  Every write keeps the file's identity
 * (core/file_replace.h: through a symlink, owner, group, mode, SELinux
 * label) and refuses an immutable, read-only or hard-linked target;
 * force (the commands' --force) writes it anyway.  new_file: the target
 * must not exist (convert, create and export without --force).  Set once
 * by the command before it writes.
 */
struct vv_cli_write_opts {
	bool force;
	bool new_file;
};
extern struct vv_cli_write_opts vv_cli_write;

/* The long option every writing command takes (--force). */
#define VV_CLI_OPT_FORCE 0x1f0

/*
 * Writes data (format f) as the store file path.  Every store write of the
 * CLI goes through here: under the store's exclusive lock
 * (backend/store_lock.h), so never while vmvarsd or another vmvars holds
 * it -- then err says who ("PATH is in use by vmvarsd (pid N); stop it or
 * edit through its management socket") -- and, when path is the file sf
 * was read from, only if it (and its journal) still hold the bytes that
 * were read: an edit of a stale copy would silently undo what was written
 * in between (a daemon that stopped after we read, another vmvars).  sf
 * may be NULL (a new file).
 *
 * JSON output onto a store whose journal is not empty: first the journal
 * is folded in -- PATH rewritten atomically as snapshot + journal (what
 * vmvarsd's compaction writes), then the journal emptied and fsync'd --
 * and only then is data written.  A crash at any point leaves the old
 * store (snapshot + journal, or the folded snapshot, which that journal
 * only repeats) or the new one with an empty journal; the old journal is
 * never replayed over the new content.  The journal must be a regular
 * file with one link (it is truncated in place).
 *
 * 0, or -1 with err; the store's content is unchanged on failure (after a
 * fold, PATH's bytes are the folded snapshot).
 */
int vv_store_file_write(const struct vv_store_file *sf, const char *path, enum vv_format f,
			const uint8_t *data, size_t size, struct vv_error *err);

/* Reads a whole file (at most 64 MiB).  0 or -1 with err naming it. */
int vv_read_file(const char *path, uint8_t **data, size_t *size, struct vv_error *err);

/* ---- command-line values ---------------------------------------------- */

/* A GUID as text or as a well-known name: "global"/"EfiGlobalVariable",
 * "db"/"EfiImageSecurityDatabase", "shim", "ms"/"MicrosoftVendor", ... */
int vv_cli_parse_guid(const char *text, vv_guid *out);

/* "NV|BS|RT|AT" (also comma-separated, any case, long names like
 * NON_VOLATILE), or a number (0x27).  0 or -1. */
int vv_cli_parse_attr(const char *text, uint32_t *out);

/* The namespace and attributes virt-fw-vars gives a new variable of that
 * name (varstore-formats §7.4). */
void vv_cli_default_var(const char *name, vv_guid *guid, uint32_t *attr);

/* Hex text (spaces and colons allowed, even length) to bytes.  0 or -1. */
int vv_cli_parse_hex(const char *text, uint8_t **out, size_t *size);

/* UTF-8 name to UCS-2 (malloc'd); NULL if not a valid variable name. */
uint16_t *vv_cli_name(const char *utf8, size_t *len);

/* The variable (name, guid) where guid NULL means: the only variable of
 * that name, else EfiGlobalVariable / the §7.4 default namespace.  *ambiguous
 * is set when several namespaces hold the name and guid was NULL. */
const struct vv_variable *vv_cli_find(const struct vv_store *s, const char *name,
				      const vv_guid *guid, bool *ambiguous);

/* The GUID's well-known name, else its text (out holds 37+ bytes). */
const char *vv_cli_guid_text(const vv_guid *g, char *out, size_t cap);

/* "2024-01-31 12:00:00" from an EFI_TIME ("" fields kept as numbers). */
void vv_cli_time_text(const vv_efi_time *t, char *out, size_t cap);

/* Lowercase hex of data; malloc'd. */
char *vv_cli_hex(const uint8_t *data, size_t size);

/* Prints a JSON document to stdout (pretty, with newline) and frees it. */
void vv_cli_print_json(struct json_object *doc);

/* Format name from the command line, or usage error text. */
int vv_cli_parse_format(const char *name, enum vv_format *f);
/* The format a file name's extension implies (.json, .fd/.raw, .aws, .xen);
 * VV_FORMAT_UNKNOWN if none. */
enum vv_format vv_cli_format_of_name(const char *path);

/* ---- decoders (decode_siglist.c) -------------------------------------- */

/* One certificate's facts.  Times are "YYYY-MM-DD HH:MM:SS UTC". */
struct vv_cert_info {
	char subject[512];
	char issuer[512];
	char cn[256];
	char not_before[32];
	char not_after[32];
	long long not_after_epoch;
	char sha256[65];
};
int vv_cert_info(const uint8_t *der, size_t size, struct vv_cert_info *ci);
/* Adds subject, issuer, cn, not_before, not_after and sha256 to a JSON object. */
void vv_cert_info_json(struct json_object *o, const struct vv_cert_info *ci);

/* The name of a signature type GUID ("x509", "sha256", ...) or NULL. */
const char *vv_sigtype_name(const vv_guid *type);

/* A signature database as JSON: [ {type, owner, ...cert or hash facts} ].
 * NULL when the bytes are not a well-formed list sequence. */
struct json_object *vv_decode_siglist_json(const uint8_t *db, size_t size);
/* The same as indented text lines; -1 if malformed (nothing printed then
 * beyond what was valid, plus an error line). */
int vv_decode_siglist_text(FILE *out, const uint8_t *db, size_t size, const char *indent);

/* ---- decoders (decode_devpath.c) -------------------------------------- */

/* A device path (all instances) in edk2 text form (varstore-formats §10.5);
 * malloc'd.  A malformed path ends with "<malformed>". */
char *vv_devpath_text(const uint8_t *dp, size_t size);

/* EFI_LOAD_OPTION (§10.3) decoded; pointers into the data. */
struct vv_load_option {
	uint32_t attributes;
	char *description;             /* malloc'd UTF-8 */
	const uint8_t *path;
	size_t path_size;
	const uint8_t *optional;
	size_t optional_size;
};
int vv_load_option_parse(const uint8_t *data, size_t size, struct vv_load_option *lo);
void vv_load_option_free(struct vv_load_option *lo);

/* Builds an EFI_LOAD_OPTION with one device path: a File path node
 * (path starts with '\' or '/', '/' converted to '\') or a URI node
 * (scheme://...).  malloc'd; NULL on invalid input. */
uint8_t *vv_load_option_build(uint32_t attributes, const char *description, const char *target,
			      const uint8_t *optional, size_t optional_size, size_t *out_size);

#endif
