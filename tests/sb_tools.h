/*
 * tests/sb_tools.h -- Secure Boot payloads made by independent tools:
 * openssl (keys, certificates, CMS signatures) and efitools
 * (cert-to-efi-sig-list, hash-to-efi-sig-list, sign-efi-sig-list), run in
 * a private temporary directory.  Tests SKIP when the tools are missing
 * (CI installs them, and there a skip is a failure).
 */
#ifndef VMVARS_TEST_SB_TOOLS_H
#define VMVARS_TEST_SB_TOOLS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char sb_dir[256];

/* Runs a shell command in sb_dir; returns its exit status. */
static int sb_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sb_sh(const char *fmt, ...)
{
	char cmd[4096];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && (", sb_dir);
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") >/dev/null 2>&1");
	return system(cmd);
}

static bool
sb_tools_present(void)
{
	return system("command -v openssl >/dev/null && command -v sign-efi-sig-list >/dev/null "
		      "&& command -v cert-to-efi-sig-list >/dev/null") == 0;
}

/* Creates the working directory; false if the tools are missing. */
static bool
sb_tools_init(void)
{
	snprintf(sb_dir, sizeof(sb_dir), "/tmp/vmvars-sb-XXXXXX");
	if (!sb_tools_present() || mkdtemp(sb_dir) == NULL)
		return false;
	return true;
}

static void
sb_tools_cleanup(void)
{
	char cmd[300];

	if (sb_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sb_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", sb_dir);
}

/* A self-signed certificate NAME.crt with key NAME.key ("rsa:2048", "ec"). */
static int
sb_make_key(const char *name, const char *kind)
{
	if (strcmp(kind, "ec") == 0)
		return sb_sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			     "-subj '/CN=%s test key/' -days 3650 -keyout %s.key -out %s.crt",
			     name, name, name);
	return sb_sh("openssl req -x509 -newkey %s -nodes -subj '/CN=%s test key/' -days 3650 "
		     "-keyout %s.key -out %s.crt", kind, name, name, name);
}

/* NAME.esl: the certificate as an EFI_CERT_X509 list with owner GUID. */
static int
sb_make_esl(const char *name, const char *owner)
{
	return sb_sh("cert-to-efi-sig-list -g %s %s.crt %s.esl", owner, name, name);
}

/* OUT.auth: sign-efi-sig-list of ESL for variable VAR with SIGNER's key.
 * flags: "" or "-a" (append). */
static int
sb_sign(const char *var, const char *esl, const char *signer, const char *timestamp,
	const char *flags, const char *out)
{
	return sb_sh("sign-efi-sig-list %s -t '%s' -k %s.key -c %s.crt %s %s %s", flags, timestamp,
		     signer, signer, var, esl, out);
}

/* Reads a file of sb_dir into a malloc'd buffer. */
static uint8_t *
sb_read(const char *file, size_t *size)
{
	char path[512];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", sb_dir, file);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static int
sb_write(const char *file, const void *data, size_t size)
{
	char path[512];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", sb_dir, file);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	rc = fwrite(data, 1, size, f) == size ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

#endif
