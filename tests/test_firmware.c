/*
 * tests/test_firmware.c -- firmware descriptors (vmvars/firmware.h;
 * reference vmfwupdate-and-firmware-descriptors.md §3-§5).
 *
 * Synthetic descriptors in a temporary directory cover every rule: the
 * schema (§3.3, §3.4), bad input (reported as file: key: value: reason),
 * search path, overrides and masks (§3.5), libvirt's matching rules (§4.2)
 * and its test behaviours (§4.6: precedence list, supported firmware per
 * machine, the qemuxmlconftest firmware cases), instantiation for every
 * mode read back from disk, the QEMU arguments, and the `vmvars` CLI's exit
 * codes.  The descriptors Debian's `ovmf` package installs in
 * /usr/share/qemu/firmware are checked when present (SKIP otherwise).
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmvars/backend.h>
#include <vmvars/firmware.h>
#include <vmvars/store.h>

#include "firmware/fw_internal.h"

/* ---- helpers ---- */

static char tmproot[64];

static char *
mkdirs(const char *fmt, ...)
{
	static char path[8][512];
	static int slot;
	char *p = path[slot++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, 512, fmt, ap);
	va_end(ap);
	mkdir(p, 0700);
	return p;
}

static const char *
fresh_dir(const char *name)
{
	if (tmproot[0] == '\0') {
		strcpy(tmproot, "/tmp/vv-fw-test.XXXXXX");
		if (mkdtemp(tmproot) == NULL)
			abort();
	}
	return mkdirs("%s/%s", tmproot, name);
}

static void
write_text(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries of dir other than . and .. */
static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static struct vv_fw_descriptor *
parse(const char *text, struct vv_error *err)
{
	memset(err, 0, sizeof(*err));
	return vv_fw_descriptor_parse(text, strlen(text), "t.json", err);
}

/* A flash descriptor with the given pieces (NULL template = none). */
static char *
flash_json(const char *mode, const char *exe, const char *efmt, const char *nv,
	   const char *nfmt, const char *targets, const char *features)
{
	static char buf[4096];
	char modepart[64] = "", nvpart[512] = "";

	if (mode != NULL)
		snprintf(modepart, sizeof(modepart), "\"mode\": \"%s\",", mode);
	if (nv != NULL)
		snprintf(nvpart, sizeof(nvpart),
			 ", \"nvram-template\": {\"filename\": \"%s\", \"format\": \"%s\"}", nv, nfmt);
	snprintf(buf, sizeof(buf),
		 "{\"description\": \"d\", \"interface-types\": [\"uefi\"],"
		 " \"mapping\": {\"device\": \"flash\", %s"
		 " \"executable\": {\"filename\": \"%s\", \"format\": \"%s\"}%s},"
		 " \"targets\": [%s], \"features\": [%s], \"tags\": []}",
		 modepart, exe, efmt, nvpart, targets, features);
	return buf;
}

#define Q35 "{\"architecture\": \"x86_64\", \"machines\": [\"pc-q35-*\"]}"

static bool
has_text(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		return true;
	printf("# message \"%s\" lacks \"%s\"\n", hay, needle);
	return false;
}

/* Expects a parse error whose message holds each of the given parts. */
static void
expect_error(const char *text, const char *part1, const char *part2)
{
	struct vv_error err;
	struct vv_fw_descriptor *d = parse(text, &err);

	CHECK(d == NULL);
	vv_fw_descriptor_free(d);
	CHECK(has_text(err.msg, "t.json: "));
	CHECK(has_text(err.msg, part1));
	if (part2 != NULL)
		CHECK(has_text(err.msg, part2));
}

/* ---- schema ---- */

/* §3.6: Debian's enrolled descriptor, with mode written out. */
static void
test_parse_example(void)
{
	struct vv_error err;
	struct vv_fw_descriptor *d = parse(flash_json("split", "/c.fd", "raw", "/v.fd", "raw", Q35,
		"\"acpi-s3\", \"amd-sev\", \"enrolled-keys\", \"requires-smm\", \"secure-boot\","
		" \"verbose-dynamic\""), &err);

	REQUIRE(d != NULL);
	CHECK_EQ(d->n_interfaces, 1);
	CHECK_EQ(d->interfaces[0], VV_FW_IF_UEFI);
	CHECK_EQ(d->device, VV_FW_DEV_FLASH);
	CHECK_EQ(d->mode, VV_FW_MODE_SPLIT);
	CHECK(d->mode_given);
	CHECK(strcmp(d->executable.filename, "/c.fd") == 0);
	CHECK_EQ(d->executable.format, VV_FW_FMT_RAW);
	CHECK(strcmp(d->nvram_template.filename, "/v.fd") == 0);
	CHECK_EQ(d->n_targets, 1);
	CHECK_EQ(d->targets[0].arch, VV_FW_ARCH_X86_64);
	CHECK_EQ(d->targets[0].n_machines, 1);
	CHECK(strcmp(d->targets[0].machines[0], "pc-q35-*") == 0);
	CHECK_EQ(d->features, VV_FW_BIT(VV_FW_FEAT_ACPI_S3) | VV_FW_BIT(VV_FW_FEAT_AMD_SEV) |
		 VV_FW_BIT(VV_FW_FEAT_ENROLLED_KEYS) | VV_FW_BIT(VV_FW_FEAT_REQUIRES_SMM) |
		 VV_FW_BIT(VV_FW_FEAT_SECURE_BOOT) | VV_FW_BIT(VV_FW_FEAT_VERBOSE_DYNAMIC));
	CHECK_EQ(d->n_warnings, 0);
	CHECK(strcmp(d->path, "t.json") == 0);
	vv_fw_descriptor_free(d);
}

/* §3.3: an absent flash mode means split; combined and stateless have no
 * template; the interface order is kept. */
static void
test_parse_modes(void)
{
	struct vv_error err;
	struct vv_fw_descriptor *d;

	d = parse(flash_json(NULL, "/c.fd", "qcow2", "/v.qcow2", "qcow2", Q35, ""), &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->mode, VV_FW_MODE_SPLIT);
	CHECK(!d->mode_given);
	CHECK_EQ(d->executable.format, VV_FW_FMT_QCOW2);
	CHECK_EQ(d->nvram_template.format, VV_FW_FMT_QCOW2);
	vv_fw_descriptor_free(d);

	d = parse(flash_json("combined", "/c.fd", "raw", NULL, NULL, Q35, ""), &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->mode, VV_FW_MODE_COMBINED);
	CHECK(d->nvram_template.filename == NULL);
	vv_fw_descriptor_free(d);

	d = parse(flash_json("stateless", "/c.fd", "raw", NULL, NULL, Q35, "\"amd-sev-snp\""), &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->mode, VV_FW_MODE_STATELESS);
	CHECK_EQ(d->features, VV_FW_BIT(VV_FW_FEAT_AMD_SEV_SNP));
	vv_fw_descriptor_free(d);

	d = parse("{\"interface-types\": [\"uefi\", \"bios\"], \"mapping\": {\"device\": \"kernel\","
		  " \"filename\": \"/k\"}, \"targets\": [], \"features\": []}", &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->n_interfaces, 2);
	CHECK_EQ(d->interfaces[0], VV_FW_IF_UEFI);
	CHECK_EQ(d->interfaces[1], VV_FW_IF_BIOS);
	CHECK_EQ(d->device, VV_FW_DEV_KERNEL);
	CHECK_EQ(d->mode, VV_FW_MODE_STATELESS);
	CHECK(strcmp(d->filename, "/k") == 0);
	CHECK(d->description == NULL);
	vv_fw_descriptor_free(d);

	d = parse("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"igvm\","
		  " \"filename\": \"/f.igvm\"}, \"targets\": [{\"architecture\": \"i686\","
		  " \"machines\": [\"q35\"]}], \"features\": [\"intel-tdx\"]}", &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->device, VV_FW_DEV_IGVM);
	CHECK_EQ(d->targets[0].arch, VV_FW_ARCH_I386);   /* libvirt's i686 (§4.1) */
	vv_fw_descriptor_free(d);
}

/* §3.4: the memory mapping, legacy and extended. */
static void
test_parse_memory(void)
{
	struct vv_error err;
	struct vv_fw_descriptor *d;

	d = parse("{\"interface-types\": [\"bios\"], \"mapping\": {\"device\": \"memory\","
		  " \"filename\": \"/usr/share/seabios/bios-256k.bin\"}, \"targets\": [],"
		  " \"features\": []}", &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->mode, VV_FW_MODE_STATELESS);
	CHECK(!d->mode_given);
	CHECK(d->executable.filename == NULL);
	vv_fw_descriptor_free(d);

	d = parse("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		  " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"},"
		  " \"nvram-template\": {\"filename\": \"/vars.json\", \"format\": \"json\"}},"
		  " \"targets\": [], \"features\": [\"host-uefi-vars\"]}", &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->mode, VV_FW_MODE_SPLIT);
	CHECK_EQ(d->nvram_template.format, VV_FW_FMT_JSON);
	CHECK(vv_fw_descriptor_host_vars(d));
	vv_fw_descriptor_free(d);

	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"filename\": \"/a\", \"executable\": {\"filename\": \"/q.fd\", \"format\":"
		     " \"raw\"}}, \"targets\": [], \"features\": []}", "mapping", "mutually exclusive");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"filename\": \"/a\", \"mode\": \"stateless\"}, \"targets\": [], \"features\": []}",
		     "mapping.mode", "must be absent");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"}}, \"targets\": [],"
		     " \"features\": []}", "mapping.mode", "required member missing");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"mode\": \"combined\", \"executable\": {\"filename\": \"/q.fd\", \"format\":"
		     " \"raw\"}}, \"targets\": [], \"features\": []}", "mapping.mode: \"combined\"",
		     "not allowed");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"mode\": \"stateless\", \"executable\": {\"filename\": \"/q.fd\", \"format\":"
		     " \"raw\"}, \"nvram-template\": {\"filename\": \"/v.json\", \"format\": \"json\"}},"
		     " \"targets\": [], \"features\": []}", "mapping.nvram-template", "only split");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\":"
		     " \"raw\"}, \"nvram-template\": {\"filename\": \"/v.fd\", \"format\": \"raw\"}},"
		     " \"targets\": [], \"features\": []}", "mapping.nvram-template.format: \"raw\"",
		     "expected json");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		     " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\":"
		     " \"qcow2\"}}, \"targets\": [], \"features\": []}",
		     "mapping.executable.format: \"qcow2\"", "expected raw");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\"},"
		     " \"targets\": [], \"features\": []}", "mapping.filename", "required member missing");
}

/* Bad input: each error names file, key and value (§4.1 rules). */
static void
test_parse_errors(void)
{
	char big[VV_FW_DESCRIPTOR_MAX + 16];
	struct vv_error err;

	expect_error("{\"interface-types\": [\"uefi\"", "not valid JSON", NULL);
	expect_error("{} {}", "trailing data", NULL);
	expect_error("[1]", "(document): [1]", "must be a JSON object");
	expect_error("{\"firmware\": {\"invalid\": true}}", "interface-types",
		     "required member missing");   /* libvirt's 93-libvirt-invalid.json */
	expect_error("{\"interface-types\": [], \"mapping\": {}}", "interface-types: []",
		     "must not be empty");
	expect_error("{\"interface-types\": \"uefi\"}", "interface-types: \"uefi\"",
		     "must be a JSON array, not a string");
	expect_error("{\"interface-types\": [\"efi\"]}", "interface-types[0]: \"efi\"",
		     "unknown interface");
	expect_error("{\"interface-types\": [\"uefi\", 3]}", "interface-types[1]: 3",
		     "must be a JSON string");
	expect_error("{\"interface-types\": [\"uefi\", \"uefi\"]}", "interface-types[1]",
		     "listed twice");
	expect_error("{\"interface-types\": [\"uefi\"]}", "mapping", "required member missing");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"rom\"}}",
		     "mapping.device: \"rom\"", "unknown device");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": null}}",
		     "mapping.device", "required member missing");
	expect_error(flash_json("rw", "/c", "raw", NULL, NULL, Q35, ""), "mapping.mode: \"rw\"",
		     "unknown mode");
	expect_error(flash_json(NULL, "/c", "vmdk", "/v", "raw", Q35, ""),
		     "mapping.executable.format: \"vmdk\"", "unknown format");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "json", Q35, ""),
		     "mapping.nvram-template.format: \"json\"", "not allowed here");
	expect_error(flash_json(NULL, "/c", "raw", NULL, NULL, Q35, ""),
		     "mapping.nvram-template", "required member missing");
	expect_error(flash_json("stateless", "/c", "raw", "/v", "raw", Q35, ""),
		     "mapping.nvram-template", "only split has one");
	expect_error(flash_json("combined", "/c", "raw", "/v", "raw", Q35, ""),
		     "mapping.nvram-template", "mode combined");
	expect_error(flash_json(NULL, "", "raw", "/v", "raw", Q35, ""),
		     "mapping.executable.filename: \"\"", "must not be empty");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"flash\","
		     " \"executable\": 7}}", "mapping.executable: 7", "must be a JSON object");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw",
				"{\"architecture\": \"sparc\", \"machines\": []}", ""),
		     "targets[0].architecture: \"sparc\"", "unknown architecture");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw",
				"{\"architecture\": \"x86_64\", \"machines\": [1]}", ""),
		     "targets[0].machines[0]: 1", "must be a JSON string");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw", "{\"architecture\": \"x86_64\"}",
				""), "targets[0].machines", "required member missing");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw", "\"x86_64\"", ""),
		     "targets[0]: \"x86_64\"", "must be a JSON object");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw", Q35, "5"), "features[0]: 5",
		     "must be a JSON string");
	expect_error(flash_json(NULL, "/c", "raw", "/v", "raw", Q35,
				"\"verbose-static\", \"verbose-dynamic\""), "features",
		     "mutually exclusive");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"kernel\","
		     " \"filename\": \"/k\"}, \"features\": []}", "targets", "required member missing");
	expect_error("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"kernel\","
		     " \"filename\": \"/k\"}, \"targets\": []}", "features", "required member missing");
	expect_error("{\"description\": 5, \"interface-types\": [\"uefi\"]}", "description: 5",
		     "must be a JSON string");

	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	CHECK(vv_fw_descriptor_parse(big, sizeof(big), "big.json", &err) == NULL);
	CHECK(has_text(err.msg, "big.json: "));
	CHECK(has_text(err.msg, "larger than the 1048576-byte limit"));
}

/* §3.2: unknown features are ignored; unknown members are ignored with a
 * warning naming them; tags are ignored whatever they hold (§3.3). */
static void
test_parse_ignored_input(void)
{
	struct vv_error err;
	struct vv_fw_descriptor *d;
	char text[2048];

	snprintf(text, sizeof(text), "%s", flash_json(NULL, "/c", "raw", "/v", "raw", Q35,
		 "\"secure-boot\", \"quantum-boot\""));
	/* add an unknown member and junk tags */
	strcpy(strrchr(text, '}'), ", \"tags\": 42, \"frobnicate\": [1]}");
	d = parse(text, &err);
	REQUIRE(d != NULL);
	CHECK_EQ(d->features, VV_FW_BIT(VV_FW_FEAT_SECURE_BOOT));
	CHECK_EQ(d->n_warnings, 2);
	REQUIRE(d->n_warnings == 2);
	/* members are checked before their contents */
	CHECK(has_text(d->warnings[0], "t.json: frobnicate: [1]: unknown member, ignored"));
	CHECK(has_text(d->warnings[1], "t.json: features[1]: \"quantum-boot\": unknown feature, "
		       "ignored"));
	vv_fw_descriptor_free(d);

	/* host-uefi-vars on split flash: accepted, with the schema's "should" */
	d = parse(flash_json(NULL, "/c", "raw", "/v", "raw", Q35, "\"host-uefi-vars\""), &err);
	REQUIRE(d != NULL);
	REQUIRE(d->n_warnings == 1);
	CHECK(has_text(d->warnings[0], "should be stateless"));
	vv_fw_descriptor_free(d);
}

/* Files that do not exist, are not regular, or are not readable. */
static void
test_load_errors(void)
{
	const char *dir = fresh_dir("load");
	struct vv_error err;
	char path[600];

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	CHECK(vv_fw_descriptor_load(path, &err) == NULL);
	CHECK(has_text(err.msg, path));
	CHECK(has_text(err.msg, "cannot open: No such file or directory"));
	CHECK(vv_fw_descriptor_load(dir, &err) == NULL);
	CHECK(has_text(err.msg, "not a regular file"));
	snprintf(path, sizeof(path), "%s/locked.json", dir);
	write_text(dir, "locked.json", "{}");
	chmod(path, 0);
	if (geteuid() != 0) {   /* root reads anything */
		CHECK(vv_fw_descriptor_load(path, &err) == NULL);
		CHECK(has_text(err.msg, "Permission denied"));
	}
}

/* ---- glob (§4.2 step 3, g_pattern_match_simple) ---- */

static void
test_glob(void)
{
	CHECK(vv_fw_glob_match("pc-i440fx-*", "pc-i440fx-2.12"));
	CHECK(vv_fw_glob_match("pc-i440fx-*", "pc-i440fx-"));
	CHECK(!vv_fw_glob_match("pc-i440fx-*", "pc-i440fx"));
	CHECK(!vv_fw_glob_match("pc-q35-*", "pc-i440fx-8.2"));
	CHECK(vv_fw_glob_match("virt-?.?", "virt-3.1"));
	CHECK(!vv_fw_glob_match("virt-?.?", "virt-10.1"));
	CHECK(vv_fw_glob_match("*", ""));
	CHECK(vv_fw_glob_match("microvm", "microvm"));
	CHECK(!vv_fw_glob_match("microvm", "microvm2"));
	CHECK(vv_fw_glob_match("*-q35-*", "pc-q35-9.0"));
	CHECK(!vv_fw_glob_match("[pc]-q35", "p-q35"));   /* brackets are literal */
	CHECK(vv_fw_glob_match("[pc]-q35", "[pc]-q35"));
	CHECK(vv_fw_glob_match("a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
	CHECK(!vv_fw_glob_match("a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* ---- discovery (§3.5) ---- */

static void
test_discovery_rules(void)
{
	const char *share = fresh_dir("d-share"), *etc = fresh_dir("d-etc");
	const char *home = fresh_dir("d-home");
	const char *dirs[] = { share, etc, home, "/nonexistent/vmvars" };
	const char *good = flash_json(NULL, "/c", "raw", "/v", "raw", Q35, "");
	const struct vv_fw_entry *e;
	struct vv_fw_list *l;
	struct vv_error err;
	char link_path[600];

	write_text(share, "50-b.json", good);
	write_text(share, "10-a.json", good);
	write_text(etc, "50-b.json", good);        /* overrides share/50-b */
	write_text(home, "50-b.json", good);       /* overrides etc/50-b too */
	write_text(share, "60-masked.json", good);
	write_text(etc, "60-masked.json", "");     /* masks it */
	write_text(home, "05-user.json", good);
	write_text(share, "70-broken.json", "{");
	write_text(share, "README", "not a descriptor");
	write_text(share, ".hidden.json", good);
	snprintf(link_path, sizeof(link_path), "%s/80-dangling.json", share);
	CHECK(symlink("/nonexistent/x.json", link_path) == 0);
	snprintf(link_path, sizeof(link_path), "%s/90-devnull.json", etc);
	CHECK(symlink("/dev/null", link_path) == 0);

	l = vv_fw_discover(dirs, 4, &err);
	REQUIRE(l != NULL);
	REQUIRE(l->n == 7);
	CHECK(strcmp(l->entries[0].name, "05-user.json") == 0);
	CHECK(strcmp(l->entries[1].name, "10-a.json") == 0);
	CHECK(strcmp(l->entries[2].name, "50-b.json") == 0);
	CHECK(strcmp(l->entries[3].name, "60-masked.json") == 0);
	CHECK(strcmp(l->entries[4].name, "70-broken.json") == 0);
	CHECK(strcmp(l->entries[5].name, "80-dangling.json") == 0);
	CHECK(strcmp(l->entries[6].name, "90-devnull.json") == 0);
	e = &l->entries[2];
	CHECK_EQ(e->state, VV_FW_ENTRY_OK);
	CHECK(strncmp(e->path, home, strlen(home)) == 0);
	REQUIRE(e->n_overridden == 2);
	CHECK(strncmp(e->overridden[0], share, strlen(share)) == 0);
	CHECK(strncmp(e->overridden[1], etc, strlen(etc)) == 0);
	CHECK_EQ(l->entries[3].state, VV_FW_ENTRY_MASKED);
	CHECK(l->entries[3].desc == NULL);
	CHECK_EQ(l->entries[4].state, VV_FW_ENTRY_INVALID);
	CHECK(has_text(l->entries[4].error, "70-broken.json: not valid JSON"));
	CHECK_EQ(l->entries[5].state, VV_FW_ENTRY_INVALID);
	CHECK(has_text(l->entries[5].error, "cannot open"));
	CHECK_EQ(l->entries[6].state, VV_FW_ENTRY_MASKED);
	CHECK(vv_fw_list_find(l, "10-a") == &l->entries[1]);
	CHECK(vv_fw_list_find(l, "10-a.json") == &l->entries[1]);
	CHECK(vv_fw_list_find(l, "10") == NULL);
	vv_fw_list_free(l);

	/* A mask in the most specific directory hides even a user file:
	 * masking is by name, whatever directory holds the content. */
	write_text(home, "10-a.json", "");
	l = vv_fw_discover(dirs, 3, &err);
	REQUIRE(l != NULL);
	CHECK_EQ(vv_fw_list_find(l, "10-a")->state, VV_FW_ENTRY_MASKED);
	vv_fw_list_free(l);
}

static void
test_default_dirs(void)
{
	char *old = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
	char **dirs;
	size_t n;

	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	dirs = vv_fw_default_dirs(&n);
	REQUIRE(dirs != NULL && n == 3);
	CHECK(strcmp(dirs[0], "/usr/share/qemu/firmware") == 0);
	CHECK(strcmp(dirs[1], "/etc/qemu/firmware") == 0);
	CHECK(strcmp(dirs[2], "/xdg/qemu/firmware") == 0);
	vv_fw_free_strings(dirs, n);
	setenv("XDG_CONFIG_HOME", "relative", 1);     /* ignored: falls back to HOME */
	setenv("HOME", "/home/u", 1);
	dirs = vv_fw_default_dirs(&n);
	REQUIRE(dirs != NULL && n == 3);
	CHECK(strcmp(dirs[2], "/home/u/.config/qemu/firmware") == 0);
	vv_fw_free_strings(dirs, n);
	if (old != NULL)
		setenv("XDG_CONFIG_HOME", old, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	free(old);
}

/* ---- libvirt's fixtures (§4.6), rebuilt with the reference's names ---- */

#define TGT(arch, m) "{\"architecture\": \"" arch "\", \"machines\": [" m "]}"
#define X86_BOTH TGT("x86_64", "\"pc-i440fx-*\", \"pc-q35-*\"")
#define X86_Q35 TGT("x86_64", "\"pc-q35-*\"")
#define SB_ENROLLED "\"acpi-s3\", \"amd-sev\", \"enrolled-keys\", \"requires-smm\", \"secure-boot\""
#define SB "\"acpi-s3\", \"amd-sev\", \"requires-smm\", \"secure-boot\""
#define EDK2 "/usr/share/edk2/ovmf/"
#define AA "/usr/share/edk2/aarch64/"

static void
write_flash(const char *dir, const char *name, const char *mode, const char *exe,
	    const char *fmt, const char *nv, const char *targets, const char *features)
{
	write_text(dir, name, flash_json(mode, exe, fmt, nv, fmt, targets, features));
}

static void
write_memory(const char *dir, const char *name, const char *iface, const char *file,
	     const char *targets, const char *features)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "{\"interface-types\": [\"%s\"], \"mapping\": {\"device\":"
		 " \"memory\", \"filename\": \"%s\"}, \"targets\": [%s], \"features\": [%s]}",
		 iface, file, targets, features);
	write_text(dir, name, buf);
}

/* Builds share/ and etc/ like libvirt's tests/qemufirmwaredata.  The
 * reference gives names, paths, modes and the per-machine results; where it
 * does not give targets (90-combined, 91-bios), they target riscv64 so they
 * stay out of the x86/aarch64 results as in libvirt's table. */
static struct vv_fw_list *
libvirt_fixture(void)
{
	const char *share = fresh_dir("lv-share"), *etc = fresh_dir("lv-etc");
	const char *home = fresh_dir("lv-home");
	const char *dirs[] = { share, etc, home };
	const char *rv = TGT("riscv64", "\"virt\"");
	const char *aa = TGT("aarch64", "\"virt-*\"");
	struct vv_error err;

	write_memory(etc, "20-bios.json", "bios", "/usr/share/seabios/bios-256k.bin",
		     X86_BOTH ", " TGT("i386", "\"pc-i440fx-*\", \"pc-q35-*\""), "");
	write_flash(share, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", NULL,
		    EDK2 "OVMF_CODE_4M.secboot.qcow2", "qcow2", EDK2 "OVMF_VARS_4M.secboot.qcow2",
		    X86_Q35, SB_ENROLLED);
	write_flash(share, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json", NULL,
		    EDK2 "OVMF_CODE.secboot.fd", "raw", EDK2 "OVMF_VARS.secboot.fd", X86_Q35,
		    SB_ENROLLED);
	write_flash(share, "40-edk2-ovmf-4m-qcow2-x64-sb.json", NULL,
		    EDK2 "OVMF_CODE_4M.secboot.qcow2", "qcow2", EDK2 "OVMF_VARS_4M.qcow2", X86_Q35, SB);
	write_flash(share, "41-edk2-ovmf-2m-raw-x64-sb.json", NULL, EDK2 "OVMF_CODE.secboot.fd",
		    "raw", EDK2 "OVMF_VARS.fd", X86_Q35, SB);
	write_flash(share, "50-edk2-aarch64-qcow2.json", NULL, AA "QEMU_EFI-silent-pflash.qcow2",
		    "qcow2", AA "vars-template-pflash.qcow2", aa, "");
	write_flash(share, "50-edk2-loongarch64.json", NULL, "/l/QEMU_EFI.fd", "raw",
		    "/l/QEMU_VARS.fd", TGT("loongarch64", "\"virt\""), "");
	write_flash(share, "50-edk2-ovmf-4m-qcow2-x64-nosb.json", NULL, EDK2 "OVMF_CODE_4M.qcow2",
		    "qcow2", EDK2 "OVMF_VARS_4M.qcow2", X86_BOTH, "\"acpi-s3\", \"amd-sev\"");
	write_memory(share, "50-edk2-ovmf-x64-microvm.json", "uefi", EDK2 "MICROVM.fd",
		     TGT("x86_64", "\"microvm\""), "");
	write_flash(share, "51-edk2-aarch64-raw.json", NULL, AA "QEMU_EFI-silent-pflash.raw", "raw",
		    AA "vars-template-pflash.raw", aa, "");
	write_flash(share, "51-edk2-ovmf-2m-raw-x64-nosb.json", NULL, EDK2 "OVMF_CODE.fd", "raw",
		    EDK2 "OVMF_VARS.fd", X86_BOTH, "\"acpi-s3\", \"amd-sev\"");
	write_flash(share, "52-edk2-aarch64-verbose-qcow2.json", NULL, AA "QEMU_EFI-pflash.qcow2",
		    "qcow2", AA "vars-template-pflash.qcow2", aa, "\"verbose-static\"");
	write_flash(share, "53-edk2-aarch64-verbose-raw.json", NULL, AA "QEMU_EFI-pflash.raw", "raw",
		    AA "vars-template-pflash.raw", aa, "\"verbose-static\"");
	write_flash(etc, "59-combined.json", "combined", EDK2 "OVMF.secboot.fd", "raw", NULL,
		    X86_Q35, SB_ENROLLED);
	write_flash(share, "60-edk2-ovmf-x64-amdsev.json", "stateless", EDK2 "OVMF.amdsev.fd",
		    "raw", NULL, X86_Q35, "\"amd-sev\", \"amd-sev-es\", \"amd-sev-snp\"");
	write_memory(share, "60-edk2-ovmf-x64-inteltdx.json", "uefi", EDK2 "OVMF.inteltdx.fd",
		     X86_Q35, "\"intel-tdx\", \"enrolled-keys\", \"secure-boot\"");
	write_flash(share, "90-combined.json", "combined", "/c/combined.fd", "raw", NULL, rv, "");
	write_memory(share, "91-bios.json", "bios", "/c/bios.bin", rv, "");
	write_flash(share, "92-masked.json", NULL, "/m.fd", "raw", "/m-vars.fd", X86_BOTH, "");
	write_text(etc, "92-masked.json", "");
	return vv_fw_discover(dirs, 3, &err);
}

/* §4.6 "Precedence": the merged, sorted list without the masked file. */
static void
test_libvirt_precedence(void)
{
	static const char *const expected[] = {
		"etc/20-bios.json",
		"share/30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		"share/31-edk2-ovmf-2m-raw-x64-sb-enrolled.json",
		"share/40-edk2-ovmf-4m-qcow2-x64-sb.json",
		"share/41-edk2-ovmf-2m-raw-x64-sb.json",
		"share/50-edk2-aarch64-qcow2.json",
		"share/50-edk2-loongarch64.json",
		"share/50-edk2-ovmf-4m-qcow2-x64-nosb.json",
		"share/50-edk2-ovmf-x64-microvm.json",
		"share/51-edk2-aarch64-raw.json",
		"share/51-edk2-ovmf-2m-raw-x64-nosb.json",
		"share/52-edk2-aarch64-verbose-qcow2.json",
		"share/53-edk2-aarch64-verbose-raw.json",
		"etc/59-combined.json",
		"share/60-edk2-ovmf-x64-amdsev.json",
		"share/60-edk2-ovmf-x64-inteltdx.json",
		"share/90-combined.json",
		"share/91-bios.json",
	};
	struct vv_fw_list *l = libvirt_fixture();
	size_t i, k = 0;
	char want[600];

	REQUIRE(l != NULL);
	for (i = 0; i < l->n; i++) {
		if (l->entries[i].state == VV_FW_ENTRY_MASKED) {
			CHECK(strcmp(l->entries[i].name, "92-masked.json") == 0);
			continue;
		}
		CHECK_EQ(l->entries[i].state, VV_FW_ENTRY_OK);
		REQUIRE(k < sizeof(expected) / sizeof(expected[0]));
		snprintf(want, sizeof(want), "%s/lv-%s", tmproot, expected[k]);
		if (strcmp(l->entries[i].path, want) != 0) {
			printf("# entry %zu: %s, want %s\n", k, l->entries[i].path, want);
			vv_test_failures++;
		}
		k++;
	}
	CHECK_EQ(k, sizeof(expected) / sizeof(expected[0]));
	vv_fw_list_free(l);
}

/* "exe:nvram exe:nvram ..." (basenames) of every match, mode any. */
static void
supported(const struct vv_fw_list *l, const char *machine, const char *arch, char *out,
	  size_t size, bool *secure)
{
	struct vv_fw_query q;
	size_t i, used = 0;

	vv_fw_query_init(&q);
	q.machine = machine;
	q.arch = arch;
	q.mode = VV_FW_MODE_ANY;
	out[0] = '\0';
	*secure = false;
	for (i = 0; i < l->n; i++) {
		const struct vv_fw_descriptor *d = l->entries[i].desc;
		const char *exe, *nv;

		if (d == NULL || !vv_fw_match(d, &q, NULL, 0))
			continue;
		exe = d->executable.filename != NULL ? d->executable.filename : d->filename;
		nv = d->nvram_template.filename;
		used += (size_t)snprintf(out + used, size - used, "%s%s:%s", used ? " " : "",
					 strrchr(exe, '/') + 1, nv ? strrchr(nv, '/') + 1 : "NULL");
		if (d->features & VV_FW_BIT(VV_FW_FEAT_REQUIRES_SMM))
			*secure = true;
	}
}

static void
check_supported(const struct vv_fw_list *l, const char *machine, const char *arch,
		bool want_secure, const char *want)
{
	char got[2048];
	bool secure;

	supported(l, machine, arch, got, sizeof(got), &secure);
	if (strcmp(got, want) != 0) {
		printf("# %s %s:\n#  got  %s\n#  want %s\n", machine, arch, got, want);
		vv_test_failures++;
	}
	CHECK_EQ(secure, want_secure);
}

/* §4.6 "Supported firmware per machine" (qemuFirmwareGetSupported). */
static void
test_libvirt_supported(void)
{
	struct vv_fw_list *l = libvirt_fixture();

	REQUIRE(l != NULL);
	check_supported(l, "pc-i440fx-3.1", "x86_64", false,
			"bios-256k.bin:NULL OVMF_CODE_4M.qcow2:OVMF_VARS_4M.qcow2 "
			"OVMF_CODE.fd:OVMF_VARS.fd");
	check_supported(l, "pc-i440fx-3.1", "i686", false, "bios-256k.bin:NULL");
	check_supported(l, "pc-q35-3.1", "x86_64", true,
			"bios-256k.bin:NULL "
			"OVMF_CODE_4M.secboot.qcow2:OVMF_VARS_4M.secboot.qcow2 "
			"OVMF_CODE.secboot.fd:OVMF_VARS.secboot.fd "
			"OVMF_CODE_4M.secboot.qcow2:OVMF_VARS_4M.qcow2 "
			"OVMF_CODE.secboot.fd:OVMF_VARS.fd "
			"OVMF_CODE_4M.qcow2:OVMF_VARS_4M.qcow2 "
			"OVMF_CODE.fd:OVMF_VARS.fd "
			"OVMF.secboot.fd:NULL OVMF.amdsev.fd:NULL OVMF.inteltdx.fd:NULL");
	check_supported(l, "pc-q35-3.1", "i686", false, "bios-256k.bin:NULL");
	check_supported(l, "microvm", "x86_64", false, "MICROVM.fd:NULL");
	check_supported(l, "virt-3.1", "aarch64", false,
			"QEMU_EFI-silent-pflash.qcow2:vars-template-pflash.qcow2 "
			"QEMU_EFI-silent-pflash.raw:vars-template-pflash.raw "
			"QEMU_EFI-pflash.qcow2:vars-template-pflash.qcow2 "
			"QEMU_EFI-pflash.raw:vars-template-pflash.raw");
	vv_fw_list_free(l);
}

/* Selects with q and checks the winner's name ("" = nothing) and, for a
 * named entry, the reason the expected-rejected one got. */
static void
check_select(const struct vv_fw_list *l, const struct vv_fw_query *q, const char *want,
	     const char *rejected, const char *reason)
{
	struct vv_fw_explanation *ex = NULL;
	long i = vv_fw_select(l, q, &ex);
	const char *got = i >= 0 ? l->entries[i].name : "";
	size_t k;

	REQUIRE(ex != NULL);
	if (strcmp(got, want) != 0) {
		printf("# selected '%s', want '%s'\n", got, want);
		vv_test_failures++;
	}
	for (k = 0; rejected != NULL && k < l->n; k++) {
		if (strcmp(ex[k].entry->name, rejected) != 0)
			continue;
		CHECK_EQ(ex[k].verdict, VV_FW_REJECTED);
		CHECK(has_text(ex[k].reason, reason));
	}
	/* every entry has a verdict, exactly one is SELECTED when i >= 0 */
	for (k = 0; k < l->n; k++) {
		CHECK(ex[k].entry == &l->entries[k]);
		CHECK((ex[k].verdict == VV_FW_SELECTED) == ((long)k == i));
		CHECK(ex[k].reason[0] != '\0');
	}
	free(ex);
}

static void
efi_q35(struct vv_fw_query *q)
{
	vv_fw_query_init(q);
	q->arch = "x86_64";
	q->machine = "pc-q35-3.1";
	q->interface = VV_FW_IF_UEFI;
}

/* §4.6 qemuxmlconftest firmware-auto-* behaviours. */
static void
test_libvirt_autoselect(void)
{
	struct vv_fw_list *l = libvirt_fixture();
	struct vv_fw_query q;
	struct vv_error err;

	REQUIRE(l != NULL);
	/* bios, bios-stateless */
	vv_fw_query_init(&q);
	q.arch = "x86_64";
	q.machine = "pc-q35-3.1";
	q.interface = VV_FW_IF_BIOS;
	check_select(l, &q, "20-bios.json", "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "interface bios not offered");
	q.mode = VV_FW_MODE_STATELESS;
	check_select(l, &q, "20-bios.json", NULL, NULL);
	/* bios-not-stateless, bios-nvram: parse errors */
	q.mode = VV_FW_MODE_SPLIT;
	CHECK(vv_fw_query_check(&q, &err) == -1);
	CHECK(has_text(err.msg, "always stateless"));
	q.mode = VV_FW_MODE_AUTO;
	q.nvram_template_path = "/x.fd";
	CHECK(vv_fw_query_check(&q, &err) == -1);

	/* efi: the first split uefi firmware for q35 */
	efi_q35(&q);
	CHECK(vv_fw_query_check(&q, &err) == 0);
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", "20-bios.json",
		     "interface uefi not offered");
	/* efi-stateless: stateless flash (amdsev) */
	q.mode = VV_FW_MODE_STATELESS;
	check_select(l, &q, "60-edk2-ovmf-x64-amdsev.json", "59-combined.json",
		     "mode combined, not stateless");
	/* efi-rw: combined is never auto-selected ... */
	efi_q35(&q);
	q.executable_path = EDK2 "OVMF.secboot.fd";
	check_select(l, &q, "", "59-combined.json", "automatic selection takes only split");
	/* ... but chosen when asked for (issue #7) */
	q.mode = VV_FW_MODE_COMBINED;
	check_select(l, &q, "59-combined.json", NULL, NULL);

	/* efi-loader-path: a standard path; -nonstandard: no match */
	efi_q35(&q);
	q.executable_path = EDK2 "OVMF_CODE.secboot.fd";
	check_select(l, &q, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", "executable is");
	q.executable_path = "/somewhere/else/OVMF_CODE.fd";
	check_select(l, &q, "", NULL, NULL);
	/* efi-nvram-template and -nonstandard */
	efi_q35(&q);
	q.nvram_template_path = EDK2 "OVMF_VARS.fd";
	check_select(l, &q, "41-edk2-ovmf-2m-raw-x64-sb.json",
		     "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json", "NVRAM template is");
	q.nvram_template_path = "/nonstandard/VARS.fd";
	check_select(l, &q, "", NULL, NULL);
	/* nvram-template with stateless: parse error */
	q.mode = VV_FW_MODE_STATELESS;
	CHECK(vv_fw_query_check(&q, &err) == -1);

	/* efi-secboot / -no-secboot / -enrolled-keys / -no-enrolled-keys */
	efi_q35(&q);
	q.features[VV_FW_FEAT_SECURE_BOOT] = VV_FW_WANT_YES;
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", NULL, NULL);
	q.features[VV_FW_FEAT_ENROLLED_KEYS] = VV_FW_WANT_NO;
	check_select(l, &q, "40-edk2-ovmf-4m-qcow2-x64-sb.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "has forbidden feature enrolled-keys");
	efi_q35(&q);
	q.features[VV_FW_FEAT_SECURE_BOOT] = VV_FW_WANT_NO;
	check_select(l, &q, "50-edk2-ovmf-4m-qcow2-x64-nosb.json",
		     "41-edk2-ovmf-2m-raw-x64-sb.json", "has forbidden feature secure-boot");
	efi_q35(&q);
	q.features[VV_FW_FEAT_ENROLLED_KEYS] = VV_FW_WANT_YES;
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", NULL, NULL);
	/* efi-enrolled-keys-no-secboot: parse error */
	q.features[VV_FW_FEAT_SECURE_BOOT] = VV_FW_WANT_NO;
	CHECK(vv_fw_query_check(&q, &err) == -1);
	CHECK(has_text(err.msg, "enrolled-keys requires secure-boot"));

	/* efi-smm-off: no requires-smm; loader secure=yes: requires-smm */
	efi_q35(&q);
	q.features[VV_FW_FEAT_REQUIRES_SMM] = VV_FW_WANT_NO;
	check_select(l, &q, "50-edk2-ovmf-4m-qcow2-x64-nosb.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "has forbidden feature requires-smm");
	/* efi-loader-insecure on i440fx: nosb qcow2 */
	q.machine = "pc-i440fx-3.1";
	check_select(l, &q, "50-edk2-ovmf-4m-qcow2-x64-nosb.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", "no x86_64 machine pattern matches");
	/* efi-loader-secure on i440fx: nothing has SMM there */
	q.features[VV_FW_FEAT_REQUIRES_SMM] = VV_FW_WANT_YES;
	check_select(l, &q, "", "51-edk2-ovmf-2m-raw-x64-nosb.json",
		     "lacks required feature requires-smm");

	/* efi-format-loader-qcow2 / raw; efi-format-nvram-qcow2; mismatch */
	efi_q35(&q);
	q.executable_format = VV_FW_FMT_RAW;
	check_select(l, &q, "31-edk2-ovmf-2m-raw-x64-sb-enrolled.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", "executable format qcow2, not raw");
	efi_q35(&q);
	q.nvram_format = VV_FW_FMT_QCOW2;
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", NULL, NULL);
	q.executable_format = VV_FW_FMT_RAW;
	CHECK(vv_fw_query_check(&q, &err) == -1);
	CHECK(has_text(err.msg, "differ"));

	/* efi-aarch64, efi-format-loader-raw on aarch64 */
	vv_fw_query_init(&q);
	q.arch = "aarch64";
	q.machine = "virt-3.1";
	q.interface = VV_FW_IF_UEFI;
	check_select(l, &q, "50-edk2-aarch64-qcow2.json", "20-bios.json",
		     "interface uefi not offered");
	q.executable_format = VV_FW_FMT_RAW;
	check_select(l, &q, "51-edk2-aarch64-raw.json", "50-edk2-aarch64-qcow2.json",
		     "executable format qcow2, not raw");
	q.features[VV_FW_FEAT_VERBOSE_STATIC] = VV_FW_WANT_YES;
	check_select(l, &q, "53-edk2-aarch64-verbose-raw.json", "51-edk2-aarch64-raw.json",
		     "lacks required feature verbose-static");

	/* launch security: SEV-ES, SNP, TDX; power management acpi-s4 */
	efi_q35(&q);
	q.features[VV_FW_FEAT_AMD_SEV_ES] = VV_FW_WANT_YES;
	check_select(l, &q, "", "60-edk2-ovmf-x64-amdsev.json", "flash mode stateless");
	q.mode = VV_FW_MODE_STATELESS;
	check_select(l, &q, "60-edk2-ovmf-x64-amdsev.json", NULL, NULL);
	q.features[VV_FW_FEAT_AMD_SEV_SNP] = VV_FW_WANT_YES;
	check_select(l, &q, "60-edk2-ovmf-x64-amdsev.json", NULL, NULL);
	efi_q35(&q);
	q.features[VV_FW_FEAT_INTEL_TDX] = VV_FW_WANT_YES;
	check_select(l, &q, "60-edk2-ovmf-x64-inteltdx.json", "60-edk2-ovmf-x64-amdsev.json",
		     "lacks required feature intel-tdx");
	efi_q35(&q);
	q.features[VV_FW_FEAT_ACPI_S4] = VV_FW_WANT_YES;
	check_select(l, &q, "", "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "lacks required feature acpi-s4");
	efi_q35(&q);
	q.features[VV_FW_FEAT_ACPI_S3] = VV_FW_WANT_YES;
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", NULL, NULL);

	/* architecture: no target; unknown architecture is a usage error */
	efi_q35(&q);
	q.arch = "riscv64";
	check_select(l, &q, "", "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "no target for architecture riscv64");
	q.arch = "sparc";
	CHECK(vv_fw_query_check(&q, &err) == -1);
	CHECK(has_text(err.msg, "sparc"));
	vv_fw_list_free(l);
}

/* host-uefi-vars firmware is chosen only when asked for (§3.2). */
static void
test_select_host_vars(void)
{
	const char *dir = fresh_dir("hv-desc");
	const char *dirs[] = { dir };
	struct vv_fw_list *l;
	struct vv_fw_query q;
	struct vv_error err;

	write_text(dir, "10-qemuvars.json",
		   "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		   " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"},"
		   " \"nvram-template\": {\"filename\": \"/vars.json\", \"format\": \"json\"}},"
		   " \"targets\": [" X86_Q35 "], \"features\": [\"host-uefi-vars\"]}");
	write_flash(dir, "60-plain.json", NULL, "/c.fd", "raw", "/v.fd", X86_Q35, "");
	l = vv_fw_discover(dirs, 1, &err);
	REQUIRE(l != NULL);
	efi_q35(&q);
	check_select(l, &q, "60-plain.json", "10-qemuvars.json", "not chosen unless host-uefi-vars");
	q.features[VV_FW_FEAT_HOST_UEFI_VARS] = VV_FW_WANT_YES;
	check_select(l, &q, "10-qemuvars.json", "60-plain.json",
		     "lacks required feature host-uefi-vars");
	q.mode = VV_FW_MODE_STATELESS;     /* explicit mode applies to memory too */
	check_select(l, &q, "", "10-qemuvars.json", "mode split, not stateless");
	vv_fw_list_free(l);
}

/*
 * Issue #17: machine aliases resolve as QEMU resolves them (q35 ->
 * pc-q35-10.2), and firmware for a confidential VM (IGVM, amd-sev-snp,
 * intel-tdx) is not picked for a VM that asks for no launch security.
 */
static void
test_select_aliases_and_confidential(void)
{
	struct vv_fw_list *l = libvirt_fixture();
	const char *dir = fresh_dir("cc-desc");
	const char *dirs[] = { dir };
	struct vv_fw_query q;
	struct vv_error err;
	char resolved[64];

	REQUIRE(l != NULL);
	CHECK_EQ(vv_fw_machine_resolve("q35", VV_FW_ARCH_X86_64, resolved, sizeof(resolved)), 1);
	CHECK(strcmp(resolved, "pc-q35-10.2") == 0);
	CHECK_EQ(vv_fw_machine_resolve("pc", -1, resolved, sizeof(resolved)), 1);
	CHECK(strcmp(resolved, "pc-i440fx-10.2") == 0);
	CHECK_EQ(vv_fw_machine_resolve("virt", VV_FW_ARCH_AARCH64, resolved, sizeof(resolved)), 1);
	CHECK(strcmp(resolved, "virt-10.2") == 0);
	CHECK_EQ(vv_fw_machine_resolve("virt", VV_FW_ARCH_X86_64, resolved, sizeof(resolved)), 0);
	CHECK_EQ(vv_fw_machine_resolve("pc-q35-8.2", VV_FW_ARCH_X86_64, resolved,
				       sizeof(resolved)), 0);
	/* q35 picks what pc-q35-3.1 picks; the microvm firmware says why not */
	efi_q35(&q);
	q.machine = "q35";
	check_select(l, &q, "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json",
		     "50-edk2-ovmf-x64-microvm.json",
		     "no x86_64 machine pattern matches q35 (QEMU's alias of pc-q35-10.2)");
	/* pc: only i440fx firmware (the q35-only Secure Boot builds are out) */
	q.machine = "pc";
	check_select(l, &q, "50-edk2-ovmf-4m-qcow2-x64-nosb.json",
		     "30-edk2-ovmf-4m-qcow2-x64-sb-enrolled.json", "no x86_64 machine pattern "
		     "matches pc (QEMU's alias of pc-i440fx-10.2)");
	/* aarch64 virt */
	vv_fw_query_init(&q);
	q.arch = "aarch64";
	q.machine = "virt";
	check_select(l, &q, "50-edk2-aarch64-qcow2.json", NULL, NULL);
	vv_fw_list_free(l);

	/* An IGVM SEV-SNP build and a memory-mapped TDX build ahead of plain
	 * firmware: a plain VM gets the plain one. */
	write_text(dir, "10-snp.json",
		   "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"igvm\","
		   " \"filename\": \"/snp.igvm\"}, \"targets\": [" X86_Q35 "],"
		   " \"features\": [\"amd-sev\", \"amd-sev-es\", \"amd-sev-snp\"]}");
	write_memory(dir, "20-tdx.json", "uefi", "/tdx.fd", X86_Q35, "\"intel-tdx\"");
	write_flash(dir, "60-plain.json", NULL, "/c.fd", "raw", "/v.fd", X86_Q35, "\"amd-sev\"");
	l = vv_fw_discover(dirs, 1, &err);
	REQUIRE(l != NULL);
	efi_q35(&q);
	check_select(l, &q, "60-plain.json", "10-snp.json", "made for a confidential VM (an IGVM "
		     "image); not chosen unless launch security is asked for");
	check_select(l, &q, "60-plain.json", "20-tdx.json", "made for a confidential VM "
		     "(intel-tdx)");
	/* amd-sev alone: the plain build supports it and comes... after IGVM */
	q.features[VV_FW_FEAT_AMD_SEV_SNP] = VV_FW_WANT_YES;
	check_select(l, &q, "10-snp.json", "60-plain.json", "lacks required feature amd-sev-snp");
	efi_q35(&q);
	q.features[VV_FW_FEAT_INTEL_TDX] = VV_FW_WANT_YES;
	check_select(l, &q, "20-tdx.json", "10-snp.json", "lacks required feature intel-tdx");
	/* an explicit mode any (libvirt's supported listing) still shows the
	 * TDX build, never the IGVM one libvirt cannot map */
	efi_q35(&q);
	q.mode = VV_FW_MODE_ANY;
	check_select(l, &q, "20-tdx.json", "10-snp.json", "made for a confidential VM");
	vv_fw_list_free(l);
}

/* ---- instantiation ---- */

static struct vv_fw_descriptor *
desc_from(const char *text)
{
	struct vv_error err;
	struct vv_fw_descriptor *d = vv_fw_descriptor_parse(text, strlen(text), "i.json", &err);

	if (d == NULL)
		printf("# %s\n", err.msg);
	return d;
}

static bool
file_equals(const char *path, const void *data, size_t len)
{
	struct vv_error err;
	size_t got_len;
	char *got;
	bool same;

	if (vv_fw_read_file(path, 1 << 26, &got, &got_len, &err) != 0)
		return false;
	same = got_len == len && memcmp(got, data, len) == 0;
	free(got);
	return same;
}

static bool
args_are(const struct vv_fw_instance *inst, const char *const *want, size_t n)
{
	size_t i;
	bool ok = inst->n_qemu_args == n;

	for (i = 0; i < inst->n_qemu_args; i++) {
		if (i < n && strcmp(inst->qemu_args[i], want[i]) == 0)
			continue;
		printf("# arg %zu: '%s', want '%s'\n", i, inst->qemu_args[i], i < n ? want[i] : "");
		ok = false;
	}
	return ok;
}

static void
test_instantiate_split(void)
{
	const char *src = fresh_dir("i-src"), *vm = fresh_dir("i-split");
	char tpl[600], exe[600], target[600], text[4096];
	struct vv_fw_instance_opts o = { .vm_name = "vm1", .dir = vm };
	struct vv_fw_instance *inst;
	struct vv_fw_descriptor *d;
	uint8_t vars[8192], other[4096];
	struct vv_error err;
	struct stat st;

	memset(vars, 0x5a, sizeof(vars));
	memset(other, 0x11, sizeof(other));
	snprintf(tpl, sizeof(tpl), "%s/VARS,1.fd", src);
	snprintf(exe, sizeof(exe), "%s/CODE.fd", src);
	write_bytes(tpl, vars, sizeof(vars));
	write_bytes(exe, other, sizeof(other));
	snprintf(text, sizeof(text), "%s", flash_json(NULL, exe, "raw", tpl, "raw", Q35,
		 "\"requires-smm\", \"secure-boot\""));
	REQUIRE((d = desc_from(text)) != NULL);

	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/vm1_VARS.fd", vm);
	CHECK_EQ(inst->kind, VV_FW_STATE_SPLIT);
	CHECK(strcmp(inst->created, target) == 0);
	CHECK(strcmp(inst->executable, exe) == 0);
	CHECK(file_equals(target, vars, sizeof(vars)));
	CHECK(stat(target, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ(count_files(vm), 1);      /* no temporary file left */
	{
		char a1[700], a2[700], a3[700];
		const char *want[] = { "-blockdev", a1, "-blockdev",
			"node-name=pflash0,driver=raw,file=pflash0-file,read-only=on",
			"-blockdev", a2, "-blockdev",
			"node-name=pflash1,driver=raw,file=pflash1-file,read-only=off",
			"-machine", "pflash0=pflash0,pflash1=pflash1,smm=on",
			"-global", "driver=cfi.pflash01,property=secure,value=on" };

		snprintf(a1, sizeof(a1), "node-name=pflash0-file,driver=file,filename=%s,read-only=on",
			 exe);
		snprintf(a2, sizeof(a2), "node-name=pflash1-file,driver=file,filename=%s,read-only=off",
			 target);
		(void)a3;
		CHECK(args_are(inst, want, sizeof(want) / sizeof(want[0])));
	}
	vv_fw_instance_free(inst);

	/* an existing target is refused and left as it was */
	write_bytes(target, other, 16);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, target));
	CHECK(has_text(err.msg, "already exists"));
	CHECK(file_equals(target, other, 16));
	CHECK_EQ(count_files(vm), 1);
	/* --force replaces it */
	o.force = true;
	o.legacy_drive = true;
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	CHECK(file_equals(target, vars, sizeof(vars)));
	CHECK_EQ(count_files(vm), 1);
	{
		char a1[700], a2[700];
		const char *want[] = { "-drive", a1, "-drive", a2, "-machine", "smm=on",
			"-global", "driver=cfi.pflash01,property=secure,value=on" };

		snprintf(a1, sizeof(a1), "if=pflash,unit=0,format=raw,readonly=on,file=%s", exe);
		snprintf(a2, sizeof(a2), "if=pflash,unit=1,format=raw,file=%s", target);
		CHECK(args_are(inst, want, sizeof(want) / sizeof(want[0])));
	}
	vv_fw_instance_free(inst);

	/* explicit target path with a comma: escaped in the QEMU arguments */
	o.force = false;
	o.legacy_drive = false;
	snprintf(target, sizeof(target), "%s/my,vm.fd", vm);
	o.target = target;
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	CHECK(file_equals(target, vars, sizeof(vars)));
	REQUIRE(inst->n_qemu_args > 5);
	CHECK(has_text(inst->qemu_args[5], "/my,,vm.fd,read-only=off"));
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);

	/* the template is missing: error naming it, nothing written */
	o.target = NULL;
	o.vm_name = "vm2";
	snprintf(text, sizeof(text), "%s", flash_json(NULL, exe, "raw", "/nonexistent/V.fd", "raw",
		 Q35, ""));
	REQUIRE((d = desc_from(text)) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "/nonexistent/V.fd: cannot open"));
	CHECK_EQ(count_files(vm), 2);
	/* a target directory that does not exist */
	o.dir = "/nonexistent/dir";
	snprintf(text, sizeof(text), "%s", flash_json(NULL, exe, "raw", tpl, "raw", Q35, ""));
	vv_fw_descriptor_free(d);
	REQUIRE((d = desc_from(text)) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "/nonexistent/dir/vm2_VARS.fd"));
	/* a bad VM name */
	o.dir = vm;
	o.vm_name = "../x";
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "must not contain '/'"));
	o.vm_name = NULL;
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "VM name is required"));
	/* a JSON template for split flash makes no sense */
	o.vm_name = "vm3";
	o.template_path = tpl;
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "--template applies to host-side variables"));
	CHECK_EQ(count_files(vm), 2);
	vv_fw_descriptor_free(d);
}

/* A template whose content does not match the descriptor's format. */
static void
test_instantiate_format_mismatch(void)
{
	const char *src = fresh_dir("fm-src"), *vm = fresh_dir("fm-vm");
	struct vv_fw_instance_opts o = { .vm_name = "vm", .dir = vm };
	char tpl[600], text[4096];
	struct vv_fw_descriptor *d;
	struct vv_error err;

	snprintf(tpl, sizeof(tpl), "%s/VARS.qcow2", src);
	write_bytes(tpl, "QFI\xfb\0\0\0\3", 8);
	snprintf(text, sizeof(text), "%s", flash_json(NULL, "/c.fd", "raw", tpl, "raw", Q35, ""));
	REQUIRE((d = desc_from(text)) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "descriptor says format raw, but the file is qcow2"));
	vv_fw_descriptor_free(d);
	snprintf(tpl, sizeof(tpl), "%s/VARS.raw", src);
	write_bytes(tpl, "\0\0\0\0\0\0\0\0", 8);
	snprintf(text, sizeof(text), "%s", flash_json(NULL, "/c.fd", "qcow2", tpl, "qcow2", Q35, ""));
	REQUIRE((d = desc_from(text)) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "has no qcow2 header"));
	vv_fw_descriptor_free(d);
	CHECK_EQ(count_files(vm), 0);
}

static void
test_instantiate_combined_stateless(void)
{
	const char *src = fresh_dir("c-src"), *vm = fresh_dir("c-vm");
	struct vv_fw_instance_opts o = { .vm_name = "vm", .dir = vm };
	char exe[600], target[600], text[4096], a1[700];
	struct vv_fw_instance *inst;
	struct vv_fw_descriptor *d;
	uint8_t image[4096];
	struct vv_error err;

	memset(image, 0xc3, sizeof(image));
	snprintf(exe, sizeof(exe), "%s/OVMF.fd", src);
	write_bytes(exe, image, sizeof(image));
	snprintf(text, sizeof(text), "%s", flash_json("combined", exe, "raw", NULL, NULL, Q35, ""));
	REQUIRE((d = desc_from(text)) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/vm_CODE.fd", vm);
	CHECK_EQ(inst->kind, VV_FW_STATE_COMBINED);
	CHECK(strcmp(inst->created, target) == 0);
	CHECK(strcmp(inst->executable, target) == 0);
	CHECK(file_equals(target, image, sizeof(image)));
	{
		const char *want[] = { "-blockdev", a1, "-blockdev",
			"node-name=pflash0,driver=raw,file=pflash0-file,read-only=off",
			"-machine", "pflash0=pflash0" };

		snprintf(a1, sizeof(a1), "node-name=pflash0-file,driver=file,filename=%s,read-only=off",
			 target);
		CHECK(args_are(inst, want, 6));
	}
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);

	/* stateless: nothing written, the executable read-only */
	snprintf(text, sizeof(text), "%s", flash_json("stateless", exe, "raw", NULL, NULL, Q35,
		 "\"amd-sev\""));
	REQUIRE((d = desc_from(text)) != NULL);
	o.vm_name = "sl";
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	CHECK_EQ(inst->kind, VV_FW_STATE_STATELESS);
	CHECK(inst->created == NULL);
	CHECK_EQ(count_files(vm), 1);
	snprintf(a1, sizeof(a1), "node-name=pflash0-file,driver=file,filename=%s,read-only=on", exe);
	{
		const char *want[] = { "-blockdev", a1, "-blockdev",
			"node-name=pflash0,driver=raw,file=pflash0-file,read-only=on",
			"-machine", "pflash0=pflash0" };

		CHECK(args_are(inst, want, 6));
	}
	vv_fw_instance_free(inst);
	o.template_path = exe;
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "stateless firmware has no variable store"));
	vv_fw_descriptor_free(d);

	/* memory (BIOS), kernel, igvm */
	o.template_path = NULL;
	REQUIRE((d = desc_from("{\"interface-types\": [\"bios\"], \"mapping\": {\"device\":"
			       " \"memory\", \"filename\": \"/b,ios.bin\"}, \"targets\": [],"
			       " \"features\": []}")) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	{
		const char *want[] = { "-bios", "/b,ios.bin" };   /* plain argument: no escaping */

		CHECK(args_are(inst, want, 2));
	}
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);
	REQUIRE((d = desc_from("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\":"
			       " \"igvm\", \"filename\": \"/f.igvm\"}, \"targets\": [],"
			       " \"features\": []}")) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	{
		const char *want[] = { "-object", "igvm-cfg,id=igvm0,file=/f.igvm", "-machine",
				       "igvm-cfg=igvm0" };

		CHECK(args_are(inst, want, 4));
	}
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);
	CHECK_EQ(count_files(vm), 1);
}

static const char json_template[] =
	"{\"version\": 2, \"variables\": ["
	"{\"guid\": \"8be4df61-93ca-11d2-aa0d-00e098032b8c\", \"name\": \"Timeout\","
	" \"attr\": 7, \"data\": \"0500\"},"
	"{\"guid\": \"12345678-1234-1234-1234-123456789abc\", \"name\": \"Mine\","
	" \"attr\": 3, \"data\": \"aabbcc\"}]}";

/* Reads a JSON v2 store back and checks it holds exactly the template's
 * two variables (n == 2) or nothing (n == 0). */
static void
check_store(const char *path, size_t n)
{
	struct vv_store *s = vv_store_new(NULL);
	const struct vv_variable *v;
	struct vv_error err;

	REQUIRE(s != NULL);
	vv_store_set_backend(s, vv_json_file_backend_new(path, &err));
	CHECK(vv_store_load(s, &err) == 0);
	v = vv_store_first(s);
	if (n == 0) {
		CHECK(v == NULL);
		vv_store_free(s);
		return;
	}
	REQUIRE(v != NULL);
	CHECK_EQ(v->name_len, 7);
	CHECK(v->name_len == 7 && memcmp(v->name, u"Timeout", 14) == 0);
	CHECK_EQ(v->attributes, 7);
	CHECK_EQ(v->data_size, 2);
	CHECK(v->data_size == 2 && v->data[0] == 5 && v->data[1] == 0);
	v = vv_store_next(v);
	REQUIRE(v != NULL);
	CHECK(v->name_len == 4 && memcmp(v->name, u"Mine", 8) == 0);
	CHECK_EQ(v->attributes, 3);
	CHECK(v->data_size == 3 && memcmp(v->data, "\xaa\xbb\xcc", 3) == 0);
	CHECK(vv_store_next(v) == NULL);
	vv_store_free(s);
}

static void
test_instantiate_host_vars(void)
{
	const char *src = fresh_dir("h-src"), *vm = fresh_dir("h-vm");
	struct vv_fw_instance_opts o = { .vm_name = "vm", .dir = vm };
	char tpl[600], target[600], text[4096], dev[700];
	struct vv_fw_instance *inst;
	struct vv_fw_descriptor *d;
	struct vv_error err;

	snprintf(tpl, sizeof(tpl), "%s/vars.json", src);
	write_text(src, "vars.json", json_template);
	snprintf(text, sizeof(text),
		 "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		 " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"},"
		 " \"nvram-template\": {\"filename\": \"%s\", \"format\": \"json\"}},"
		 " \"targets\": [" X86_Q35 "], \"features\": [\"host-uefi-vars\"]}", tpl);
	REQUIRE((d = desc_from(text)) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	if (inst == NULL)
		printf("# %s\n", err.msg);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/vm_VARS.json", vm);
	CHECK_EQ(inst->kind, VV_FW_STATE_HOST_VARS);
	CHECK(strcmp(inst->created, target) == 0);
	CHECK_EQ(inst->n_variables, 2);
	check_store(target, 2);
	CHECK_EQ(count_files(vm), 1);
	snprintf(dev, sizeof(dev), "uefi-vars-x64,jsonfile=%s", target);
	{
		const char *want[] = { "-bios", "/q.fd", "-device", dev };

		CHECK(args_are(inst, want, 4));
	}
	vv_fw_instance_free(inst);
	/* existing store: refused, untouched */
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "already exists"));
	check_store(target, 2);
	vv_fw_descriptor_free(d);

	/* a "json" template that is not JSON: refused, nothing written */
	write_text(src, "bad.json", "\x55\xaa not json");
	snprintf(tpl, sizeof(tpl), "%s/bad.json", src);
	snprintf(text, sizeof(text),
		 "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		 " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"},"
		 " \"nvram-template\": {\"filename\": \"%s\", \"format\": \"json\"}},"
		 " \"targets\": [{\"architecture\": \"aarch64\", \"machines\": [\"virt-*\"]}],"
		 " \"features\": [\"host-uefi-vars\"]}", tpl);
	REQUIRE((d = desc_from(text)) != NULL);
	o.vm_name = "vm2";
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "descriptor says format json, but the file is not a JSON document"));
	/* a JSON document that is not a valid store: the JSON v2 error */
	write_text(src, "bad.json", "{\"version\": 3, \"variables\": []}");
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "bad.json"));
	CHECK_EQ(count_files(vm), 1);
	/* --template overrides; sysbus device off x86 */
	snprintf(tpl, sizeof(tpl), "%s/vars.json", src);
	o.template_path = tpl;
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/vm2_VARS.json", vm);
	check_store(target, 2);
	REQUIRE(inst->n_qemu_args == 4);
	CHECK(has_text(inst->qemu_args[3], "uefi-vars-sysbus,jsonfile="));
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);

	/* stateless flash with host-uefi-vars: an empty store */
	o.template_path = NULL;
	o.vm_name = "vm3";
	REQUIRE((d = desc_from(flash_json("stateless", "/c.fd", "raw", NULL, NULL, Q35,
					  "\"host-uefi-vars\""))) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/vm3_VARS.json", vm);
	CHECK_EQ(inst->n_variables, 0);
	check_store(target, 0);
	REQUIRE(inst->n_qemu_args == 8);
	CHECK(strcmp(inst->qemu_args[5], "pflash0=pflash0") == 0);
	CHECK(has_text(inst->qemu_args[7], "uefi-vars-x64,jsonfile="));
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);

	/* --host-vars on split flash with a raw template that is no flash image */
	write_bytes(tpl, "_FVH", 4);
	REQUIRE((d = desc_from(flash_json(NULL, "/c.fd", "raw", tpl, "raw", Q35, ""))) != NULL);
	o.vm_name = "vm4";
	o.host_vars = true;
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "neither a JSON v2 store nor an OVMF_VARS.fd image"));
	vv_fw_descriptor_free(d);
	/* --host-vars on combined firmware: refused */
	REQUIRE((d = desc_from(flash_json("combined", "/c.fd", "raw", NULL, NULL, Q35, ""))) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "host-side variables replace a split NVRAM"));
	vv_fw_descriptor_free(d);
	CHECK_EQ(count_files(vm), 3);
}

/*
 * Issue #17: a VM that asks for stateless host-uefi-vars firmware gets the
 * variable device with no store (nothing written); a split pair of OVMF
 * builds that do not belong together is flagged and not instantiated
 * unless forced; host-uefi-vars firmware offered to a machine without the
 * device is flagged.
 */
static void
test_instantiate_issue17(void)
{
	const char *src = fresh_dir("x-src"), *vm = fresh_dir("x-vm");
	struct vv_fw_instance_opts o = { .vm_name = "vm", .dir = vm, .stateless = true };
	char code[600], vars[600], dpath[600], want[1600], why[700];
	struct vv_fw_instance *inst;
	struct vv_fw_descriptor *d;
	struct vv_error err;
	int fd;

	/* stateless host-uefi-vars: no file, the device without jsonfile= */
	REQUIRE((d = desc_from(flash_json("stateless", "/c.fd", "raw", NULL, NULL, Q35,
					  "\"host-uefi-vars\""))) != NULL);
	inst = vv_fw_instantiate(d, &o, &err);
	REQUIRE(inst != NULL);
	CHECK_EQ(inst->kind, VV_FW_STATE_HOST_VARS_STATELESS);
	CHECK(inst->created == NULL);
	CHECK_EQ(count_files(vm), 0);
	{
		const char *args[] = { "-blockdev",
			"node-name=pflash0-file,driver=file,filename=/c.fd,read-only=on",
			"-blockdev", "node-name=pflash0,driver=raw,file=pflash0-file,read-only=on",
			"-machine", "pflash0=pflash0", "-device", "uefi-vars-x64" };

		CHECK(args_are(inst, args, 8));
	}
	CHECK(strcmp(vv_fw_state_kind_name(inst->kind), "host-uefi-vars-stateless") == 0);
	vv_fw_instance_free(inst);
	/* with vmvarsd (which keeps a store): refused */
	o.vmvarsd_dir = vm;
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "vmvarsd keeps a store; stateless firmware keeps none"));
	o.vmvarsd_dir = NULL;
	vv_fw_descriptor_free(d);

	/* a 4 MiB build's code with a 2 MiB build's vars (sparse files) */
	snprintf(code, sizeof(code), "%s/OVMF_CODE_4M.fd", src);
	snprintf(vars, sizeof(vars), "%s/OVMF_VARS.fd", src);
	REQUIRE((fd = open(code, O_CREAT | O_WRONLY | O_TRUNC, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 3653632) == 0 && close(fd) == 0);
	REQUIRE((fd = open(vars, O_CREAT | O_WRONLY | O_TRUNC, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 131072) == 0 && close(fd) == 0);
	write_text(src, "50-mix.json", flash_json(NULL, code, "raw", vars, "raw", Q35, ""));
	snprintf(dpath, sizeof(dpath), "%s/50-mix.json", src);
	REQUIRE((d = vv_fw_descriptor_load(dpath, &err)) != NULL);
	snprintf(want, sizeof(want), "executable %s (3653632 bytes) and NVRAM template %s (131072 "
		 "bytes) make 3784704 bytes, not the 2 or 4 MiB flash OVMF is built for: the "
		 "firmware would find no variable store in this template and lose every "
		 "variable write (pair a 4 MiB build's code with its own template, e.g. "
		 "OVMF_VARS_4M.fd)", code, vars);
	CHECK_EQ(vv_fw_flash_pair_check(d, why, sizeof(why)), 1);
	CHECK(strcmp(why, want) == 0);
	REQUIRE(d->n_warnings == 1);
	CHECK(has_text(d->warnings[0], want));
	o.stateless = false;
	o.vm_name = "mix";
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "lose every variable write"));
	CHECK(has_text(err.msg, "; nothing written (--force instantiates it anyway)"));
	CHECK_EQ(count_files(vm), 0);
	o.force = true;
	inst = vv_fw_instantiate(d, &o, &err);
	CHECK(inst != NULL);
	CHECK_EQ(count_files(vm), 1);
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);
	/* the matching 4 MiB pair is fine */
	REQUIRE((fd = open(vars, O_CREAT | O_WRONLY | O_TRUNC, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 540672) == 0 && close(fd) == 0);
	REQUIRE((d = vv_fw_descriptor_load(dpath, &err)) != NULL);
	CHECK_EQ(vv_fw_flash_pair_check(d, why, sizeof(why)), 0);
	CHECK_EQ(d->n_warnings, 0);
	vv_fw_descriptor_free(d);

	/* host-uefi-vars offered to microvm (no uefi-vars device) */
	REQUIRE((d = parse("{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
			   " \"filename\": \"/q.fd\"}, \"targets\": [{\"architecture\": \"x86_64\","
			   " \"machines\": [\"pc-q35-*\", \"microvm\"]}, {\"architecture\": "
			   "\"aarch64\", \"machines\": [\"virt-*\", \"sbsa-ref\"]}],"
			   " \"features\": [\"host-uefi-vars\"]}", &err)) != NULL);
	REQUIRE(d->n_warnings == 2);
	CHECK(strcmp(d->warnings[0], "t.json: targets: x86_64 microvm has no uefi-vars device "
		     "(QEMU has it on pc and q35 only), and host-uefi-vars firmware panics without "
		     "it") == 0);
	CHECK(strcmp(d->warnings[1], "t.json: targets: aarch64 sbsa-ref has no uefi-vars device "
		     "(QEMU has it on virt only), and host-uefi-vars firmware panics without "
		     "it") == 0);
	vv_fw_descriptor_free(d);
}

/*
 * Issue #13's operator path: host-uefi-vars firmware served by vmvarsd.
 * The store goes where the daemon reads it (STATE_DIR/vars.json, the
 * directory made 0700), the daemon's command line comes back, and QEMU's
 * device names the VMM socket instead of a jsonfile.
 */
static void
test_instantiate_vmvarsd(void)
{
	const char *src = fresh_dir("v-src"), *base = fresh_dir("v-state");
	char tpl[600], state[600], store[700], text[4096], dev[800];
	struct vv_fw_instance_opts o = { .vm_name = "vm" };
	struct vv_fw_instance *inst;
	struct vv_fw_descriptor *d;
	struct vv_error err;
	struct stat st;

	snprintf(tpl, sizeof(tpl), "%s/vars.json", src);
	write_text(src, "vars.json", json_template);
	snprintf(state, sizeof(state), "%s/vm", base);
	snprintf(store, sizeof(store), "%s/vars.json", state);
	snprintf(text, sizeof(text),
		 "{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"memory\","
		 " \"mode\": \"split\", \"executable\": {\"filename\": \"/q.fd\", \"format\": \"raw\"},"
		 " \"nvram-template\": {\"filename\": \"%s\", \"format\": \"json\"}},"
		 " \"targets\": [" X86_Q35 "], \"features\": [\"host-uefi-vars\"]}", tpl);
	REQUIRE((d = desc_from(text)) != NULL);
	o.vmvarsd_dir = state;
	inst = vv_fw_instantiate(d, &o, &err);
	if (inst == NULL)
		printf("# %s\n", err.msg);
	REQUIRE(inst != NULL);
	CHECK_EQ(inst->kind, VV_FW_STATE_HOST_VARS);
	CHECK(strcmp(inst->created, store) == 0);
	CHECK_EQ(inst->n_variables, 2);
	check_store(store, 2);
	CHECK(stat(state, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_EQ(count_files(state), 1);
	snprintf(dev, sizeof(dev), "uefi-vars-x64,vmvarsd=%s/vmm.sock", state);
	{
		const char *want[] = { "-bios", "/q.fd", "-device", dev };

		CHECK(args_are(inst, want, 4));
	}
	REQUIRE(inst->n_vmvarsd_args == 3);
	CHECK(strcmp(inst->vmvarsd_args[0], "vmvarsd") == 0);
	CHECK(strcmp(inst->vmvarsd_args[1], "--state-dir") == 0);
	CHECK(strcmp(inst->vmvarsd_args[2], state) == 0);
	vv_fw_instance_free(inst);
	/* the daemon's store exists: refused, untouched */
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "already exists"));
	check_store(store, 2);

	/* systemd's layout: the socket elsewhere, commas escaped for QEMU */
	o.force = true;
	o.vmvarsd_socket = "/run/vmvars/v,m/vmm.sock";
	REQUIRE((inst = vv_fw_instantiate(d, &o, &err)) != NULL);
	{
		const char *want[] = { "-bios", "/q.fd", "-device",
				       "uefi-vars-x64,vmvarsd=/run/vmvars/v,,m/vmm.sock" };

		CHECK(args_are(inst, want, 4));
	}
	REQUIRE(inst->n_vmvarsd_args == 5);
	CHECK(strcmp(inst->vmvarsd_args[3], "--vmm-socket") == 0);
	CHECK(strcmp(inst->vmvarsd_args[4], "/run/vmvars/v,m/vmm.sock") == 0);
	vv_fw_instance_free(inst);
	vv_fw_descriptor_free(d);

	/* flash firmware keeping its variables in pflash: not for vmvarsd */
	REQUIRE((d = desc_from(flash_json(NULL, "/c.fd", "raw", tpl, "raw", Q35, ""))) != NULL);
	o.vm_name = "vm5";
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "vmvarsd serves host-side variables; this firmware keeps them "
		       "in split"));
	vv_fw_descriptor_free(d);
	/* a socket without a state directory makes no sense */
	o.vmvarsd_dir = NULL;
	REQUIRE((d = desc_from(text)) != NULL);
	CHECK(vv_fw_instantiate(d, &o, &err) == NULL);
	CHECK(has_text(err.msg, "a vmvarsd socket without the daemon's state directory"));
	vv_fw_descriptor_free(d);
	CHECK_EQ(count_files(state), 1);
}

/* ---- Debian's ovmf package (§5.2) ---- */

static void
test_debian_ovmf(void)
{
	const char *dirs[] = { "/usr/share/qemu/firmware" };
	const char *vm = fresh_dir("deb-vm");
	struct vv_fw_instance_opts o = { .vm_name = "deb", .dir = vm };
	const struct vv_fw_entry *e;
	struct vv_fw_instance *inst;
	struct vv_fw_list *l;
	struct vv_fw_query q;
	struct vv_error err;
	char target[600], *tpl;
	size_t tpl_len;

	if (!file_exists("/usr/share/qemu/firmware/60-edk2-x86_64.json"))
		SKIP("Debian's ovmf package is not installed (/usr/share/qemu/firmware)");
	l = vv_fw_discover(dirs, 1, &err);
	REQUIRE(l != NULL);
	e = vv_fw_list_find(l, "40-edk2-x86_64-secure-enrolled");
	REQUIRE(e != NULL && e->state == VV_FW_ENTRY_OK);
	CHECK_EQ(e->desc->mode, VV_FW_MODE_SPLIT);
	CHECK(!e->desc->mode_given);       /* Debian omits mode */
	CHECK(strcmp(e->desc->executable.filename, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd") == 0);
	CHECK(strcmp(e->desc->nvram_template.filename, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd") == 0);
	CHECK_EQ(e->desc->features, VV_FW_BIT(VV_FW_FEAT_ACPI_S3) | VV_FW_BIT(VV_FW_FEAT_AMD_SEV) |
		 VV_FW_BIT(VV_FW_FEAT_ENROLLED_KEYS) | VV_FW_BIT(VV_FW_FEAT_REQUIRES_SMM) |
		 VV_FW_BIT(VV_FW_FEAT_SECURE_BOOT) | VV_FW_BIT(VV_FW_FEAT_VERBOSE_DYNAMIC));
	CHECK_EQ(e->desc->n_warnings, 0);
	e = vv_fw_list_find(l, "50-edk2-x86_64-secure");
	REQUIRE(e != NULL && e->state == VV_FW_ENTRY_OK);
	CHECK_EQ(e->desc->n_warnings, 0);
	e = vv_fw_list_find(l, "60-edk2-x86_64");
	REQUIRE(e != NULL && e->state == VV_FW_ENTRY_OK);
	CHECK_EQ(e->desc->targets[0].n_machines, 2);

	efi_q35(&q);
	q.machine = "pc-q35-8.2";
	check_select(l, &q, "40-edk2-x86_64-secure-enrolled.json", NULL, NULL);
	q.features[VV_FW_FEAT_ENROLLED_KEYS] = VV_FW_WANT_NO;
	check_select(l, &q, "50-edk2-x86_64-secure.json", "40-edk2-x86_64-secure-enrolled.json",
		     "has forbidden feature enrolled-keys");
	efi_q35(&q);
	q.features[VV_FW_FEAT_REQUIRES_SMM] = VV_FW_WANT_NO;
	check_select(l, &q, "60-edk2-x86_64.json", "50-edk2-x86_64-secure.json",
		     "has forbidden feature requires-smm");
	efi_q35(&q);
	q.machine = "pc-i440fx-8.2";
	check_select(l, &q, "60-edk2-x86_64.json", "40-edk2-x86_64-secure-enrolled.json",
		     "no x86_64 machine pattern matches pc-i440fx-8.2");
	q.mode = VV_FW_MODE_COMBINED;
	check_select(l, &q, "", "60-edk2-x86_64.json", "mode split, not combined");

	/* split instantiation of the enrolled one: a byte copy of the template */
	e = vv_fw_list_find(l, "40-edk2-x86_64-secure-enrolled");
	inst = vv_fw_instantiate(e->desc, &o, &err);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/deb_VARS.fd", vm);
	CHECK(strcmp(inst->created, target) == 0);
	REQUIRE(vv_fw_read_file(e->desc->nvram_template.filename, 1 << 26, &tpl, &tpl_len,
				&err) == 0);
	CHECK(file_equals(target, tpl, tpl_len));
	free(tpl);
	vv_fw_instance_free(inst);

	/* the same firmware with host-side variables: Debian's enrolled
	 * OVMF_VARS_4M.ms.fd becomes a vmvars JSON store with the same keys */
	o.vm_name = "debhost";
	o.host_vars = true;
	inst = vv_fw_instantiate(e->desc, &o, &err);
	if (inst == NULL)
		printf("# %s\n", err.msg);
	REQUIRE(inst != NULL);
	snprintf(target, sizeof(target), "%s/debhost_VARS.json", vm);
	CHECK(strcmp(inst->created, target) == 0);
	{
		struct vv_store *s = vv_store_new(NULL);
		struct vv_error e2;
		const uint16_t pk[] = { 'P', 'K', 0 }, kek[] = { 'K', 'E', 'K', 0 }, db[] = { 'd', 'b', 0 };

		vv_store_set_backend(s, vv_json_file_backend_new(target, &e2));
		REQUIRE(vv_store_load(s, &e2) == 0);
		CHECK(vv_store_find(s, pk, 2, &VV_GUID_GLOBAL_VARIABLE) != NULL);
		CHECK(vv_store_find(s, kek, 3, &VV_GUID_GLOBAL_VARIABLE) != NULL);
		CHECK(vv_store_find(s, db, 2, &VV_GUID_IMAGE_SECURITY_DB) != NULL);
		CHECK_EQ(vv_store_count(s), inst->n_variables);
		vv_store_free(s);
	}
	vv_fw_instance_free(inst);
	vv_fw_list_free(l);
}

/* ---- the CLI's exit codes ---- */

static int
run_cli(const char *args)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmvars %s >/dev/null 2>&1", root, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_cli(void)
{
	const char *root = getenv("VMVARS_BUILD_ROOT");
	const char *dir = fresh_dir("cli-fw"), *vm = fresh_dir("cli-vm");
	char path[600], args[1500], tpl[600];

	if (root == NULL)
		SKIP("VMVARS_BUILD_ROOT not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/src/cli/vmvars", root);
	if (!file_exists(path))
		SKIP("the vmvars executable is not built");
	snprintf(tpl, sizeof(tpl), "%s/VARS.fd", vm);
	write_bytes(tpl, "\1\2\3\4", 4);
	write_flash(dir, "50-x.json", NULL, "/c.fd", "raw", tpl, Q35, "");
	write_text(dir, "60-bad.json", "{");
	CHECK_EQ(run_cli("--help"), 0);
	CHECK_EQ(run_cli("--version"), 0);
	CHECK_EQ(run_cli("help firmware"), 0);
	CHECK_EQ(run_cli(""), 2);
	CHECK_EQ(run_cli("nosuchcommand"), 2);
	CHECK_EQ(run_cli("help nosuchcommand"), 2);
	CHECK_EQ(run_cli("firmware"), 2);
	CHECK_EQ(run_cli("firmware frob"), 2);
	CHECK_EQ(run_cli("firmware --help"), 0);
	snprintf(args, sizeof(args), "firmware list --json --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 0);
	snprintf(args, sizeof(args), "firmware show 50-x --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 0);
	snprintf(args, sizeof(args), "firmware show 60-bad --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 1);
	snprintf(args, sizeof(args), "firmware show --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);
	snprintf(args, sizeof(args), "firmware select --arch x86_64 --machine pc-q35-9.0 "
		 "--explain --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 0);
	snprintf(args, sizeof(args), "firmware select --arch aarch64 --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 1);
	snprintf(args, sizeof(args), "firmware select --arch sparc --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);
	snprintf(args, sizeof(args), "firmware select --feature warp-drive --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);
	snprintf(args, sizeof(args), "firmware select --feature secure-boot --no-feature "
		 "secure-boot --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);
	snprintf(args, sizeof(args), "firmware list --vm x --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);
	snprintf(args, sizeof(args), "firmware instantiate --vm v --firmware-dir %s", dir);
	CHECK_EQ(run_cli(args), 2);   /* no --dir */
	snprintf(args, sizeof(args), "firmware instantiate --vm v --dir %s --json "
		 "--firmware-dir %s", vm, dir);
	CHECK_EQ(run_cli(args), 0);
	snprintf(path, sizeof(path), "%s/v_VARS.fd", vm);
	CHECK(file_equals(path, "\1\2\3\4", 4));
	CHECK_EQ(run_cli(args), 1);   /* exists */
	snprintf(args, sizeof(args), "firmware instantiate --vm v --dir %s --force "
		 "--descriptor 50-x --firmware-dir %s", vm, dir);
	CHECK_EQ(run_cli(args), 0);
	snprintf(args, sizeof(args), "firmware instantiate --vm v --dir %s --descriptor 50-x "
		 "--arch x86_64 --firmware-dir %s", vm, dir);
	CHECK_EQ(run_cli(args), 2);
}

static void
cleanup(void)
{
	char cmd[128];

	if (tmproot[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmproot);
	}
}

static void
test_zz_cleanup(void)
{
	cleanup();
	CHECK(!file_exists(tmproot));
}

static const struct vv_test tests[] = {
	TEST(test_parse_example),
	TEST(test_parse_modes),
	TEST(test_parse_memory),
	TEST(test_parse_errors),
	TEST(test_parse_ignored_input),
	TEST(test_load_errors),
	TEST(test_glob),
	TEST(test_discovery_rules),
	TEST(test_default_dirs),
	TEST(test_libvirt_precedence),
	TEST(test_libvirt_supported),
	TEST(test_libvirt_autoselect),
	TEST(test_select_host_vars),
	TEST(test_select_aliases_and_confidential),
	TEST(test_instantiate_split),
	TEST(test_instantiate_format_mismatch),
	TEST(test_instantiate_combined_stateless),
	TEST(test_instantiate_host_vars),
	TEST(test_instantiate_vmvarsd),
	TEST(test_instantiate_issue17),
	TEST(test_debian_ovmf),
	TEST(test_cli),
	TEST(test_zz_cleanup),
};

VV_TEST_MAIN(tests)
