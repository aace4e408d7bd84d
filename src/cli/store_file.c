/*
 * src/cli/store_file.c -- opening a store file of any format into a store,
 * saving it back atomically, and the command-line value parsers every
 * store subcommand shares (store_file.h).
 *
 * The store gets the default limits (store.h: what QEMU's uefi-vars gives a
 * guest), so an offline edit is held to the same quotas as the guest's own
 * writes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmvars/ucs2.h>

#include "backend/file_backend.h"
#include "backend/journal_backend.h"
#include "backend/store_lock.h"
#include "cli/cli.h"
#include "cli/live.h"
#include "core/file_replace.h"
#include "cli/store_file.h"
#include "cli/store_fleet.h"

#define MAX_FILE_SIZE (64u << 20)

struct vv_cli_write_opts vv_cli_write;

/* Every file a writing command replaces goes through here: the one
 * atomic-replace primitive, keeping the file's identity
 * (core/file_replace.h), with --force and "must be new" as the command
 * set them (store_file.h); rewrite: the target is the existing store
 * itself (the journal fold), so "must be new" does not apply. */
static int
write_user_file(const char *path, const uint8_t *data, size_t size, bool rewrite,
		struct vv_error *err)
{
	struct vv_replace how = { VV_REPLACE_IDENTITY, 0644, NULL, NULL };

	if (vv_cli_write.force)
		how.flags |= VV_REPLACE_FORCE;
	else if (vv_cli_write.new_file && !rewrite)
		how.flags |= VV_REPLACE_NEW;
	return vv_file_replace(path, data, size, &how, err);
}

int
vv_read_file(const char *path, uint8_t **data, size_t *size, struct vv_error *err)
{
	FILE *f;
	struct stat st;
	uint8_t *buf;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return vv_error_set(err, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return vv_error_set(err, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
		fclose(f);
		return vv_error_set(err, "%s: larger than %u bytes", path, MAX_FILE_SIZE);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		return vv_error_set(err, "%s: out of memory", path);
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size || ferror(f)) {
		free(buf);
		fclose(f);
		return vv_error_set(err, "%s: read error", path);
	}
	fclose(f);
	buf[n] = 0;     /* convenience for text formats; not counted */
	*data = buf;
	*size = n;
	return 0;
}

static int
attach_secure_boot(struct vv_store_file *sf, struct vv_error *err)
{
	sf->sb = vv_secureboot_new(sf->store, NULL);
	if (sf->sb == NULL)
		return vv_error_set(err, "cannot attach Secure Boot (out of memory)");
	return 0;
}

/*
 * Edits are judged as at the end of DXE: the VarCheck properties of
 * UEFI-defined variables (BootNext is 2 bytes, Boot#### a load option, ...;
 * store.h "VarCheck variable properties") apply only from then on, and an
 * offline edit must obey them.  Read-only properties still do not bind the
 * host owner.
 */
static void
mark_end_of_dxe(struct vv_store_file *sf)
{
	vv_store_signal(sf->store, VV_EVENT_END_OF_DXE);
}

int
vv_store_file_empty(struct vv_store_file *sf, bool secure_boot, struct vv_error *err)
{
	memset(sf, 0, sizeof(*sf));
	if ((sf->store = vv_store_new(NULL)) == NULL)
		return vv_error_set(err, "out of memory");
	if (secure_boot && attach_secure_boot(sf, err) != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	mark_end_of_dxe(sf);
	return 0;
}

/* ---- the journal of a JSON store (store_file.h) ----------------------- */

/*
 * Reads PATH.journal: *exists false (0) if there is none.  Never through a
 * symlink (a write truncates it, and root must not truncate whatever a
 * link points at) nor a FIFO (it would block); *links gets its link count.
 */
static int
read_journal(const char *path, bool *exists, uint8_t **data, size_t *size, nlink_t *links,
	     struct vv_error *err)
{
	struct stat st;
	char *jpath, *text = NULL;
	int fd, rc = -1;

	*exists = false;
	*data = NULL;
	*size = 0;
	if (asprintf(&jpath, "%s.journal", path) < 0)
		return vv_error_set(err, "%s: out of memory", path);
	fd = open(jpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = 0;
	} else if (fd < 0 && errno == ELOOP) {
		vv_error_set(err, "%s: a symbolic link; a store's journal must be a regular file",
			     jpath);
	} else if (fd < 0) {
		vv_error_set(err, "%s: %s", jpath, strerror(errno));
	} else if (fstat(fd, &st) != 0) {
		vv_error_set(err, "%s: fstat: %s", jpath, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		vv_error_set(err, "%s: not a regular file", jpath);
	} else if (vv_file_read_all(fd, &text, size) != 0) {
		vv_error_set(err, "%s: read: %s", jpath, strerror(errno));
	} else {
		*exists = true;
		*data = (uint8_t *)text;
		*links = st.st_nlink;
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	free(jpath);
	return rc;
}

static void
warn_torn(const char *path, size_t good, size_t size)
{
	fprintf(stderr, "%s: warning: %s.journal: torn last record (%zu bytes at byte %zu) "
		"dropped: it was never acknowledged\n", vv_cli_progname, path, size - good, good);
}

/* The store as vmvarsd loads it: sf->raw (if any) with sf->jraw replayed. */
static int
load_journaled(struct vv_store_file *sf, struct vv_error *err)
{
	if (vv_journal_load_text(sf->store, sf->path, (const char *)sf->raw, sf->raw_size,
				 (const char *)sf->jraw, sf->jraw_size, &sf->jgood, err) != 0)
		return -1;
	sf->format = VV_FORMAT_JSON;
	sf->journaled = true;
	if (sf->jgood < sf->jraw_size)
		warn_torn(sf->path, sf->jgood, sf->jraw_size);
	return 0;
}

int
vv_store_file_open(struct vv_store_file *sf, const char *path, enum vv_format f,
		   bool secure_boot, struct vv_error *err)
{
	struct stat st;
	bool json, jexists;
	nlink_t links;
	int rc;

	/* A VM of a fleet store (store_fleet.c). */
	if (vv_cli_is_fleet(path))
		return vv_store_fleet_open(sf, path, secure_boot, err);
	if (vv_store_file_empty(sf, false, err) != 0)
		return -1;
	if ((sf->path = strdup(path)) == NULL) {
		vv_store_file_close(sf);
		return vv_error_set(err, "out of memory");
	}
	if (vv_live_is_address(path)) {
		/* A running VM: its daemon's store, as a JSON store. */
		sf->format = VV_FORMAT_JSON;
		rc = vv_live_load(path, &sf->store, &sf->live, err);
		goto loaded;
	}
	if (stat(path, &st) != 0) {
		int saved = errno;

		/* A journal without a snapshot: a daemon that never compacted. */
		if (saved == ENOENT && (f == VV_FORMAT_UNKNOWN || f == VV_FORMAT_JSON) &&
		    read_journal(path, &jexists, &sf->jraw, &sf->jraw_size, &links, err) == 0 &&
		    jexists) {
			sf->snapshot_missing = true;
			rc = load_journaled(sf, err);
			goto loaded;
		}
		vv_error_set(err, "%s: %s", path, strerror(saved));
		vv_store_file_close(sf);
		return -1;
	}
	/* The raw bytes are kept as the geometry template for fd saves. */
	if (S_ISREG(st.st_mode) && vv_read_file(path, &sf->raw, &sf->raw_size, err) != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	json = S_ISREG(st.st_mode) &&
	       (f == VV_FORMAT_JSON ||
		(f == VV_FORMAT_UNKNOWN && vv_format_detect(sf->raw, sf->raw_size) == VV_FORMAT_JSON));
	if (json && read_journal(path, &jexists, &sf->jraw, &sf->jraw_size, &links, err) != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	if (json && jexists)
		rc = load_journaled(sf, err);
	else
		rc = vv_format_load_path(path, f, sf->store, &sf->format, err);
loaded:
	if (rc != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	if (secure_boot && attach_secure_boot(sf, err) != 0) {
		vv_store_file_close(sf);
		return -1;
	}
	mark_end_of_dxe(sf);
	return 0;
}

/*
 * The volatile variables the Secure Boot service publishes at every power-on
 * (SetupMode, SecureBoot, ...; secureboot.h) are rebuilt by the firmware
 * side, so a format not storing them loses nothing: no warning for them.
 */
static bool
service_volatile(const struct vv_store_file *sf, const char *line)
{
	static const char *const names[] = {
		"SignatureSupport-", "VendorKeys-", "SetupMode-", "AuditMode-", "DeployedMode-",
		"SecureBoot-",
	};

	if (sf->sb == NULL || strstr(line, "8be4df61-93ca-11d2-aa0d-00e098032b8c: volatile") == NULL)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(line, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* True (err set) if path no longer holds the bytes sf was read from. */
static bool
changed_since_read(const struct vv_store_file *sf, const char *path, struct vv_error *err)
{
	uint8_t *now;
	size_t size;
	bool changed;

	if (vv_read_file(path, &now, &size, err) != 0)
		return true;
	changed = size != sf->raw_size || memcmp(now, sf->raw, size) != 0;
	free(now);
	if (changed)
		vv_error_set(err, "%s changed since it was read; nothing written (run the command "
			     "again)", path);
	return changed;
}

/* A JSON store as it is on disk now: snapshot and journal bytes. */
struct json_disk {
	bool snapshot_exists, journal_exists;
	uint8_t *snapshot, *journal;
	size_t snapshot_size, journal_size;
	nlink_t journal_links;
};

static void
json_disk_free(struct json_disk *d)
{
	free(d->snapshot);
	free(d->journal);
}

static int
json_disk_read(const char *path, struct json_disk *d, struct vv_error *err)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return vv_error_set(err, "%s: %s", path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		if (vv_read_file(path, &d->snapshot, &d->snapshot_size, err) != 0)
			return -1;
		d->snapshot_exists = true;
	}
	if (read_journal(path, &d->journal_exists, &d->journal, &d->journal_size,
			 &d->journal_links, err) != 0) {
		json_disk_free(d);
		return -1;
	}
	return 0;
}

static bool
same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* True (err set) if the store changed since sf read it: the snapshot (or
 * its absence) and the journal's content (none = empty). */
static bool
json_changed_since_read(const struct vv_store_file *sf, const struct json_disk *d,
			struct vv_error *err)
{
	bool snapshot_same = sf->snapshot_missing ? !d->snapshot_exists :
			     d->snapshot_exists && same_bytes(d->snapshot, d->snapshot_size,
							       sf->raw, sf->raw_size);

	if (snapshot_same && same_bytes(d->journal, d->journal_size, sf->jraw, sf->jraw_size))
		return false;
	vv_error_set(err, "%s changed since it was read; nothing written (run the command again)",
		     sf->path);
	return true;
}

/* Empties PATH.journal in place, durably: not through a symlink, and only
 * the regular file of one link that was read (checked again on the
 * descriptor, so a name swapped meanwhile is not truncated). */
static int
empty_journal(const char *path, struct vv_error *err)
{
	struct stat st;
	char *jpath;
	int fd, rc = 0;

	if (asprintf(&jpath, "%s.journal", path) < 0)
		return vv_error_set(err, "%s: out of memory", path);
	fd = open(jpath, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		rc = vv_error_set(err, "%s: empty: %s", jpath, strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		rc = vv_error_set(err, "%s: no longer a regular file of one link; not emptied",
				  jpath);
	else if (ftruncate(fd, 0) != 0 || fsync(fd) != 0)
		rc = vv_error_set(err, "%s: empty: %s", jpath, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(jpath);
	return rc;
}

/*
 * The JSON write under the lock (store_file.h): fold a non-empty journal
 * into the snapshot, empty it, then write data.  Crash analysis: before
 * the fold's rename, the old snapshot + journal; after it, the folded
 * snapshot + a journal it already holds (replay is idempotent on
 * contents: docs/architecture.md "Persistence"); after the truncate, the
 * folded snapshot alone; after the last rename, data alone.  Never data
 * with the old journal replayed over it.
 */
static int
write_json_store(const struct vv_store_file *sf, const char *path, const uint8_t *data,
		 size_t size, struct vv_error *err)
{
	struct json_disk d;
	char *fold = NULL;
	size_t fold_len, good = 0;
	int rc = -1;

	if (json_disk_read(path, &d, err) != 0)
		return -1;
	if (sf != NULL && json_changed_since_read(sf, &d, err))
		goto out;
	if (vv_cli_write.new_file && !vv_cli_write.force &&
	    (d.snapshot_exists || d.journal_size > 0)) {
		vv_error_set(err, "%s: exists; nothing written (use --force to replace it)", path);
		goto out;
	}
	if (d.journal_size > 0) {
		if (d.journal_links != 1) {
			vv_error_set(err, "%s.journal: has %lu links; refusing to empty it in place "
				     "(nothing written)", path, (unsigned long)d.journal_links);
			goto out;
		}
		fold = vv_journal_fold_text(path, (const char *)d.snapshot, d.snapshot_size,
					    (const char *)d.journal, d.journal_size, &fold_len,
					    &good, err);
		if (fold == NULL) {
			vv_error_prefix(err, "%s: its journal cannot be folded in; nothing written",
					path);
			goto out;
		}
		/* sf's open already reported a torn tail of these bytes. */
		if (sf == NULL && good < d.journal_size)
			warn_torn(path, good, d.journal_size);
		if (good > 0 && write_user_file(path, (const uint8_t *)fold, fold_len, true, err) != 0)
			goto out;
		if (empty_journal(path, err) != 0) {
			if (good > 0)
				vv_error_prefix(err, "%s now holds its journal's records, which the "
						"journal repeats; the edit was not written", path);
			goto out;
		}
	}
	rc = write_user_file(path, data, size, false, err);
out:
	free(fold);
	json_disk_free(&d);
	return rc;
}

int
vv_store_file_write(const struct vv_store_file *sf, const char *path, enum vv_format f,
		    const uint8_t *data, size_t size, struct vv_error *err)
{
	bool in_place = sf != NULL && sf->path != NULL && strcmp(path, sf->path) == 0 &&
			(sf->raw != NULL || sf->journaled);
	int lock, rc = -1;
	char *real;

	if (vv_cli_is_fleet(path)) {
		char shown[600];

		vv_cli_fleet_shown(path, shown, sizeof(shown));
		return vv_error_set(err, "%s: a fleet store takes variables, not a file image",
				    shown);
	}
	if (vv_live_is_address(path))
		return vv_error_set(err, "%s: a running VM's store is written only by the command "
				    "that read it (write it to a file, then import that)", path);
	/* A symlink is written through (core/file_replace.h), so the lock,
	 * the journal and the check for a concurrent change are the real
	 * file's: those of the name vmvarsd was given. */
	real = vv_file_resolve(path, err);
	if (real == NULL)
		return -1;
	if (vv_store_lock(real, vv_cli_progname, true, &lock, err) != 0) {
		vv_live_lock_hint(real, err);
		free(real);
		return -1;
	}
	if (f == VV_FORMAT_JSON)
		rc = write_json_store(in_place ? sf : NULL, real, data, size, err);
	else if (!in_place || !changed_since_read(sf, real, err))
		rc = write_user_file(real, data, size, false, err);
	vv_store_unlock(lock);
	free(real);
	return rc;
}

int
vv_store_file_save(struct vv_store_file *sf, const char *out_path, enum vv_format f,
		   const uint8_t *tmpl, size_t tmpl_size, struct vv_error *err)
{
	struct vv_format_report rep = { NULL, 0 };
	uint8_t *out = NULL;
	size_t out_size = 0;
	int rc;

	if (out_path == NULL)
		out_path = sf->path;
	/* A VM of a fleet store (store_fleet.c). */
	if (vv_cli_is_fleet(out_path))
		return vv_store_fleet_save(sf, out_path, err);
	if (sf->live != NULL && strcmp(out_path, sf->path) == 0) {
		size_t changes;

		return vv_live_save(sf->live, sf->path, sf->store, &changes, err);
	}
	if (f == VV_FORMAT_UNKNOWN)
		f = sf->format;
	if (f == VV_FORMAT_UNKNOWN || f == VV_FORMAT_EFIVARFS)
		return vv_error_set(err, "%s: cannot write format %s", out_path,
				    f == VV_FORMAT_EFIVARFS ? "efivarfs (import only)" : "unknown");
	if (tmpl == NULL && f == VV_FORMAT_OVMF_FD && sf->format == VV_FORMAT_OVMF_FD) {
		tmpl = sf->raw;
		tmpl_size = sf->raw_size;
	}
	if (vv_format_save(f, sf->store, tmpl, tmpl_size, &out, &out_size, &rep, err) != 0) {
		vv_error_prefix(err, "%s", out_path);
		vv_format_report_free(&rep);
		return -1;
	}
	for (size_t i = 0; i < rep.count; i++)
		if (!service_volatile(sf, rep.lines[i]))
			fprintf(stderr, "%s: warning: %s: %s\n", vv_cli_progname, out_path, rep.lines[i]);
	vv_format_report_free(&rep);
	rc = vv_store_file_write(sf, out_path, f, out, out_size, err);
	free(out);
	return rc;
}

void
vv_store_file_close(struct vv_store_file *sf)
{
	/* Secure Boot detaches from the store, so it goes first. */
	vv_secureboot_free(sf->sb);
	vv_live_close(sf->live);
	vv_store_free(sf->store);
	vv_store_fleet_close(sf);
	free(sf->path);
	free(sf->raw);
	free(sf->jraw);
	memset(sf, 0, sizeof(*sf));
}

/* ---- command-line values ---------------------------------------------- */

/* The names are core's (vv_guid_parse_name), so the management API
 * accepts exactly what the command line does. */
int
vv_cli_parse_guid(const char *text, vv_guid *out)
{
	return vv_guid_parse_name(text, out);
}

const char *
vv_cli_guid_text(const vv_guid *g, char *out, size_t cap)
{
	const char *n = vv_guid_name(g);
	char t[VV_GUID_TEXT_LEN + 1];

	if (n == NULL) {
		vv_guid_format(g, t);
		n = t;
	}
	snprintf(out, cap, "%s", n);
	return out;
}

static const struct {
	const char *shorts;
	const char *longs;
	uint32_t bit;
} attr_names[] = {
	/* varstore-formats §8.1 */
	{ "NV", "NON_VOLATILE", VV_ATTR_NV },
	{ "BS", "BOOTSERVICE_ACCESS", VV_ATTR_BS },
	{ "RT", "RUNTIME_ACCESS", VV_ATTR_RT },
	{ "HR", "HARDWARE_ERROR_RECORD", VV_ATTR_HR },
	{ "AW", "AUTHENTICATED_WRITE_ACCESS", VV_ATTR_AW },
	{ "AT", "TIME_BASED_AUTHENTICATED_WRITE_ACCESS", VV_ATTR_AT },
	{ "AP", "APPEND_WRITE", VV_ATTR_APPEND },
	{ "EA", "ENHANCED_AUTHENTICATED_ACCESS", VV_ATTR_EA },
};

int
vv_cli_parse_attr(const char *text, uint32_t *out)
{
	char buf[256], *tok, *save = NULL, *end;
	unsigned long n;
	uint32_t a = 0;

	if (isdigit((unsigned char)text[0])) {
		errno = 0;
		n = strtoul(text, &end, 0);
		if (errno != 0 || *end != '\0' || n > 0xFFFFFFFFul)
			return -1;
		*out = (uint32_t)n;
		return 0;
	}
	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	for (tok = strtok_r(buf, "|,+ ", &save); tok != NULL; tok = strtok_r(NULL, "|,+ ", &save)) {
		size_t i;

		if (strncasecmp(tok, "EFI_VARIABLE_", 13) == 0)
			tok += 13;
		for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
			if (strcasecmp(tok, attr_names[i].shorts) == 0 ||
			    strcasecmp(tok, attr_names[i].longs) == 0)
				break;
		if (i == sizeof(attr_names) / sizeof(attr_names[0]))
			return -1;
		a |= attr_names[i].bit;
	}
	*out = a;
	return 0;
}

void
vv_cli_default_var(const char *name, vv_guid *guid, uint32_t *attr)
{
	/* varstore-formats §7.4 (virt-firmware efivar_defaults). */
	static const char *const shim_vars[] = {
		"MokList", "MokListX", "MokListTrusted", "SbatLevel", "SHIM_DEBUG",
		"SHIM_VERBOSE", "FALLBACK_VERBOSE",
	};

	*guid = VV_GUID_GLOBAL_VARIABLE;
	*attr = VV_ATTR_NV | VV_ATTR_BS;
	if (strcmp(name, "SecureBoot") == 0) {
		*attr = VV_ATTR_BS | VV_ATTR_RT;
	} else if (strcmp(name, "SecureBootEnable") == 0) {
		*guid = VV_GUID_SECURE_BOOT_ENABLE;
	} else if (strcmp(name, "CustomMode") == 0) {
		*guid = VV_GUID_CUSTOM_MODE;
	} else if (strcmp(name, "PK") == 0 || strcmp(name, "KEK") == 0) {
		*attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT;
	} else if (strcmp(name, "db") == 0 || strcmp(name, "dbx") == 0 ||
		   strcmp(name, "dbt") == 0 || strcmp(name, "dbr") == 0) {
		*guid = VV_GUID_IMAGE_SECURITY_DB;
		*attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT | VV_ATTR_AT;
	} else if (strcmp(name, "FB_NO_REBOOT") == 0) {
		vv_cli_parse_guid("shim", guid);
		*attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	} else if (strncmp(name, "Boot", 4) == 0 || strncmp(name, "Driver", 6) == 0 ||
		   strcmp(name, "Timeout") == 0 || strcmp(name, "ConIn") == 0 ||
		   strcmp(name, "ConOut") == 0 || strcmp(name, "ErrOut") == 0 ||
		   strcmp(name, "PlatformLang") == 0 || strcmp(name, "Lang") == 0 ||
		   strcmp(name, "OsIndications") == 0) {
		/* §7.4 gives Boot* 0x07; the other UEFI-defined NV variables of
		 * §10.2 need NV|BS|RT too, or VarCheck refuses them. */
		*attr = VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT;
	} else {
		for (size_t i = 0; i < sizeof(shim_vars) / sizeof(shim_vars[0]); i++)
			if (strcmp(name, shim_vars[i]) == 0)
				vv_cli_parse_guid("shim", guid);
	}
}

int
vv_cli_parse_hex(const char *text, uint8_t **out, size_t *size)
{
	size_t len = strlen(text), n = 0;
	uint8_t *buf = malloc(len / 2 + 1);
	int hi = -1;

	if (buf == NULL)
		return -1;
	if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0)
		text += 2;
	for (; *text != '\0'; text++) {
		int d;

		if (*text == ' ' || *text == ':' || *text == '\n' || *text == '\t')
			continue;
		if ((d = vv_hex_digit(*text)) < 0) {
			free(buf);
			return -1;
		}
		if (hi < 0) {
			hi = d;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	if (hi >= 0) {      /* odd number of digits */
		free(buf);
		return -1;
	}
	*out = buf;
	*size = n;
	return 0;
}

uint16_t *
vv_cli_name(const char *utf8, size_t *len)
{
	uint16_t *n = vv_ucs2_from_utf8(utf8, strlen(utf8), len);

	if (n != NULL && *len == 0) {
		free(n);
		return NULL;
	}
	return n;
}

const struct vv_variable *
vv_cli_find(const struct vv_store *s, const char *name, const vv_guid *guid, bool *ambiguous)
{
	const struct vv_variable *v, *found = NULL;
	uint16_t *n;
	size_t len, matches = 0;
	vv_guid def;
	uint32_t attr;

	*ambiguous = false;
	if ((n = vv_cli_name(name, &len)) == NULL)
		return NULL;
	if (guid != NULL) {
		v = vv_store_find(s, n, len, guid);
		free(n);
		return v;
	}
	for (v = vv_store_first(s); v != NULL; v = vv_store_next(v)) {
		if (vv_ucs2_equal(v->name, v->name_len, n, len)) {
			if (found == NULL)
				found = v;
			matches++;
		}
	}
	if (matches > 1) {
		/* Several namespaces: the default one wins if it is among them. */
		vv_cli_default_var(name, &def, &attr);
		found = vv_store_find(s, n, len, &def);
		if (found == NULL)
			*ambiguous = true;
	}
	free(n);
	return found;
}

void
vv_cli_time_text(const vv_efi_time *t, char *out, size_t cap)
{
	snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u", vv_le16(t->b), t->b[2], t->b[3],
		 t->b[4], t->b[5], t->b[6]);
}

char *
vv_cli_hex(const uint8_t *data, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(size * 2 + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < size; i++) {
		s[2 * i] = digits[data[i] >> 4];
		s[2 * i + 1] = digits[data[i] & 15];
	}
	s[size * 2] = '\0';
	return s;
}

void
vv_cli_print_json(struct json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

int
vv_cli_parse_format(const char *name, enum vv_format *f)
{
	if (strcmp(name, "ovmf") == 0 || strcmp(name, "edk2") == 0 || strcmp(name, "raw") == 0)
		name = "fd";
	*f = vv_format_from_name(name);
	return *f == VV_FORMAT_UNKNOWN ? -1 : 0;
}

enum vv_format
vv_cli_format_of_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot == NULL)
		return VV_FORMAT_UNKNOWN;
	if (strcmp(dot, ".json") == 0)
		return VV_FORMAT_JSON;
	if (strcmp(dot, ".fd") == 0 || strcmp(dot, ".raw") == 0)
		return VV_FORMAT_OVMF_FD;
	if (strcmp(dot, ".aws") == 0)
		return VV_FORMAT_AWS;
	if (strcmp(dot, ".xen") == 0)
		return VV_FORMAT_XEN;
	return VV_FORMAT_UNKNOWN;
}
