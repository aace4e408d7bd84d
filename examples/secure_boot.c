/*
 * examples/secure_boot.c -- enrolls Secure Boot keys into a fresh store
 * and shows the mode going Setup -> User -> Deployed, the way a host
 * owner provisions a VM:
 *
 *   secure-boot [--store DIR]
 *
 * 1. a new per-VM store (DIR/vars.json) with Secure Boot attached: Setup mode;
 * 2. the host owner enrolls a KEK, a db and finally a PK (certificates
 *    generated here with OpenSSL, wrapped in EFI_SIGNATURE_LISTs) -- no
 *    signatures are needed by the store's owner: User mode;
 * 3. the guest firmware, over the MM protocol, reads the mode variables
 *    and writes DeployedMode = 1: Deployed mode, which survives a reset;
 * 4. the guest tries to write SetupMode and an unsigned db: refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <vmvars/mor.h>
#include <vmvars/secureboot.h>
#include <vmvars/vmvars.h>

#include "guest_firmware.h"

#define U(s) ((const uint16_t *)u"" s), (sizeof(u"" s) / 2 - 1)

/* A self-signed RSA-2048 certificate, DER; NULL on failure. */
static uint8_t *
make_cert(const char *cn, size_t *size)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL;
	int len = -1;

	if (key == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, key, EVP_sha256()) > 0)
		len = i2d_X509(x, &der);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	if (len <= 0)
		return NULL;
	*size = (size_t)len;
	return der;
}

/* One EFI_SIGNATURE_LIST of type EFI_CERT_X509 holding the certificate
 * (varstore-formats §9.1). */
static uint8_t *
x509_esl(const uint8_t *der, size_t der_size, size_t *size)
{
	static const char *owner = "4e32566d-8e9e-4f52-81d3-5bb9715f9727";
	uint8_t *esl;

	*size = 28 + 16 + der_size;
	esl = calloc(1, *size);
	if (esl == NULL)
		return NULL;
	vv_guid_parse("a5c059a1-94e4-4aa7-87b5-ab155c2bf072", (vv_guid *)esl);
	vv_put_le32(esl + 16, (uint32_t)*size);
	vv_put_le32(esl + 20, 0);
	vv_put_le32(esl + 24, (uint32_t)(16 + der_size));
	vv_guid_parse(owner, (vv_guid *)(esl + 28));
	memcpy(esl + 44, der, der_size);
	return esl;
}

static int
enroll(struct vv_secureboot *sb, enum vv_sb_db which, const char *what)
{
	size_t der_size, esl_size;
	uint8_t *der = make_cert(what, &der_size);
	uint8_t *esl = der ? x509_esl(der, der_size, &esl_size) : NULL;
	vv_status st = esl ? vv_secureboot_enroll(sb, which, esl, esl_size, false)
			   : VV_EFI_OUT_OF_RESOURCES;

	printf("  host enrolls %-4s (certificate \"%s\"): %s -> %s mode\n",
	       which == VV_SB_PK ? "PK" : which == VV_SB_KEK ? "KEK" : "db", what,
	       vv_status_name(st), vv_sb_mode_name(vv_secureboot_mode(sb)));
	free(esl);
	OPENSSL_free(der);
	return st == VV_EFI_SUCCESS ? 0 : -1;
}

static void
show_mode(struct fw_guest *g, const char *when)
{
	static const char *const names[] = { "SetupMode", "SecureBoot", "AuditMode", "DeployedMode" };
	uint16_t name[16];

	printf("  guest reads (%s):", when);
	for (size_t i = 0; i < 4; i++) {
		uint8_t v = 0xff;
		uint64_t size = 1;
		size_t len = strlen(names[i]);

		for (size_t k = 0; k <= len; k++)
			name[k] = (uint8_t)names[i][k];
		fw_get_variable(g, name, len, &VV_GUID_GLOBAL_VARIABLE, NULL, &v, &size);
		printf(" %s=%u", names[i], v);
	}
	printf("\n");
}

int
main(int argc, char **argv)
{
	const char *dir = argc == 3 && strcmp(argv[1], "--store") == 0 ? argv[2] : "secure-boot-vm";
	char path[4200], why[128];
	struct vv_error err;
	struct vv_store *store;
	struct vv_policy *policy;
	struct vv_secureboot *sb;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct fw_guest g;
	uint8_t one = 1;
	int rc = 0;

	if (argc != 1 && argc != 3) {
		fprintf(stderr, "usage: %s [--store DIR]\n", argv[0]);
		return 2;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "secure-boot: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/vars.json", dir);
	remove(path);                                   /* a fresh store */
	store = vv_store_new(NULL);
	vv_store_set_backend(store, vv_json_file_backend_new(path, &err));
	policy = vv_policy_new(store, NULL);
	sb = vv_secureboot_new(store, NULL);
	mm = vv_mm_new(store, policy);
	if (store == NULL || policy == NULL || sb == NULL || mm == NULL || fw_guest_alloc(&g, false))
		return 1;
	dev = vv_uefi_vars_device_new(mm, fw_guest_memory(&g), false);
	if (dev == NULL || fw_guest_init(&g, dev, why, sizeof(why)) != 0)
		return 1;

	printf("1. a fresh store %s: %s mode\n", path, vv_sb_mode_name(vv_secureboot_mode(sb)));
	show_mode(&g, "boot 1");
	printf("2. provisioning by the host owner\n");
	rc |= enroll(sb, VV_SB_KEK, "Example KEK");
	rc |= enroll(sb, VV_SB_DB, "Example db");
	rc |= enroll(sb, VV_SB_PK, "Example PK");
	show_mode(&g, "boot 1");
	printf("   Secure Boot %s at the next boot\n",
	       vv_secureboot_enforcing(sb) ? "will be enforced" : "will NOT be enforced");

	printf("3. the guest locks it down\n");
	printf("  guest SetVariable(DeployedMode = 1): %s\n",
	       vv_status_name(fw_set_variable(&g, U("DeployedMode"), &VV_GUID_GLOBAL_VARIABLE,
					      VV_ATTR_BS | VV_ATTR_RT, &one, 1)));
	printf("  now %s mode\n", vv_sb_mode_name(vv_secureboot_mode(sb)));
	vv_uefi_vars_device_reset(dev);
	if (fw_guest_init(&g, dev, why, sizeof(why)) != 0)
		return 1;
	show_mode(&g, "boot 2, after a reset");

	printf("4. what the guest cannot do\n");
	printf("  guest SetVariable(SetupMode = 1): %s\n",
	       vv_status_name(fw_set_variable(&g, U("SetupMode"), &VV_GUID_GLOBAL_VARIABLE,
					      VV_ATTR_BS | VV_ATTR_RT, &one, 1)));
	printf("  guest SetVariable(db) without a signature: %s\n",
	       vv_status_name(fw_set_variable(&g, U("db"), &VV_GUID_IMAGE_SECURITY_DB,
					      VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT, "x", 1)));
	printf("the store is in %s (PK, KEK, db and the deployed state persist)\n", path);
	if (vv_secureboot_mode(sb) != VV_SB_DEPLOYED)
		rc = 1;
	vv_uefi_vars_device_free(dev);
	vv_mm_free(mm);
	vv_secureboot_free(sb);
	vv_policy_free(policy);
	vv_store_free(store);
	fw_guest_release(&g);
	return rc ? 1 : 0;
}
