/*
 * vmvars/secureboot.h -- Secure Boot kept by the host: time-based
 * authenticated variables, the PK/KEK/db/dbx hierarchy, the four modes,
 * private authenticated variables (varstore-formats §8.4-§8.6, UEFI 2.10
 * §8.2 and §32.3).
 *
 * vv_secureboot_new() attaches to a store: an AUTH hook (which gives the
 * store authenticated-variable support), a SPECIAL hook for the mode
 * variables, a COMMITTED hook that re-derives the mode after PK changes, and
 * a listener that rebuilds the mode variables on every VM reset.
 *
 * Modes (§8.6):
 *   mode      SetupMode AuditMode DeployedMode SecureBoot
 *   Setup         1         0          0          0
 *   User          0         0          0       SecureBootEnable
 *   Audit         1         1          0          0
 *   Deployed      0         0          1          1
 * Transitions: Setup->User and Audit->Deployed by enrolling PK; User->Setup
 * by a signed PK delete; Setup->Audit and User->Audit (which clears PK) by
 * the guest writing AuditMode=1; User->Deployed by writing DeployedMode=1;
 * Deployed->User only by the host owner (vv_secureboot_set_mode).
 * Audit and Deployed persist across resets (an NV|BS record in vmvars's own
 * namespace, read-only to the guest).
 */
#ifndef VMVARS_SECUREBOOT_H
#define VMVARS_SECUREBOOT_H

#include <vmvars/store.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vv_sb_mode {
	VV_SB_SETUP,
	VV_SB_USER,
	VV_SB_AUDIT,
	VV_SB_DEPLOYED,
};

struct vv_secureboot_config {
	/* QEMU force-secure-boot: SecureBootEnable is 1 and stays 1. */
	bool force_secure_boot;
	/* QEMU disable-custom-mode: CustomMode cannot be set by the guest. */
	bool disable_custom_mode;
};

struct vv_secureboot;

struct vv_secureboot *vv_secureboot_new(struct vv_store *s, const struct vv_secureboot_config *cfg);
/* Detaches from the store: free before the store. */
void vv_secureboot_free(struct vv_secureboot *sb);

enum vv_sb_mode vv_secureboot_mode(const struct vv_secureboot *sb);
const char *vv_sb_mode_name(enum vv_sb_mode m);

/* Whether the firmware will enforce signatures at the next boot: a PK is
 * enrolled, SecureBootEnable is 1 (or forced), and the mode is User or
 * Deployed. */
bool vv_secureboot_enforcing(const struct vv_secureboot *sb);

/*
 * Derives the mode again from the NV content (PK and the mode flags) and
 * publishes the mode variables (SetupMode, SecureBoot before
 * ExitBootServices, AuditMode, DeployedMode), as after a PK write.  For a
 * host owner that wrote the key variables' exact state without SetVariable
 * (vmvarsd's management "batch" of "put" changes, docs/management.md).
 */
void vv_secureboot_refresh(struct vv_secureboot *sb);

/* The Secure Boot databases the host owner can enroll without a signature. */
enum vv_sb_db {
	VV_SB_PK, VV_SB_KEK, VV_SB_DB, VV_SB_DBX, VV_SB_DBT, VV_SB_DBR,
};

/*
 * Host-owner enrollment: replaces (or with append, extends with
 * de-duplication) the database with an EFI_SIGNATURE_LIST value, with no
 * signature and the current time as its timestamp.  The value is
 * format-checked (EFI_INVALID_PARAMETER; PK holds one signature); the mode
 * follows (enrolling PK leaves Setup/Audit).  An empty value deletes.
 */
vv_status vv_secureboot_enroll(struct vv_secureboot *sb, enum vv_sb_db which,
			       const uint8_t *esl, size_t size, bool append);

/* Host-owner mode change (the "platform-specific" transitions, e.g.
 * Deployed -> User).  EFI_INVALID_PARAMETER for a transition that needs a
 * PK that is not there (User/Deployed without PK). */
vv_status vv_secureboot_set_mode(struct vv_secureboot *sb, enum vv_sb_mode m);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_SECUREBOOT_H */
