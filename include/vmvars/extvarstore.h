/*
 * vmvars/extvarstore.h -- the doorbell register of the varstored protocol
 * (vmvars/xenvar.h) as a device model a VMM embeds: AWS EC2's ExtVarStore
 * register (I/O port 0x100 on x86, MMIO 0x09050000 on ARM) and, with no
 * feature word, Xen's port-0x100 doorbell (reference peer-services.md
 * §2.3, §9.3, §9.4; docs/protocols.md "The doorbell device").
 *
 * One 32-bit register at offset 0 (an 8-byte write is the ARM doorbell):
 *   read   the feature word: 0xEC | features << 8 (Xen: all-ones), or,
 *          after a TRANSFER kick, the response stream (below)
 *   write  bits 0-15 = 0xFFEC (TRANSFER offered): two request bytes in
 *          bits 16-23, 24-31
 *          bits 0-15 = 0xFFED (TRANSFER offered): kick, request length in
 *          bits 16-31; length 0xFFFF resets the state machine
 *          anything else: doorbell, the value is the page number of the
 *          16-page communication buffer
 *
 * Doorbell: the 64 KiB at page << 12 are read through the VMM's callback
 * once into a private zero-filled buffer, the request runs there, and the
 * response (plus, with FEATURE_CRC32, a UINT32 CRC32 of it right after) is
 * written back at offset 0.  A page range outside guest memory (the read
 * callback fails) runs nothing and writes nothing.
 *
 * TRANSFER response, read as 32-bit words: the total size (response padded
 * to 4 bytes, plus 4 for the CRC), the CRC32 (IEEE, edk2 CalculateCrc32) of
 * the padded response, then its words from the last to the first.  A kick
 * whose length differs from the bytes streamed (or is 0, or follows more
 * than 64 KiB) runs nothing and reads back size 0, which tells the guest
 * to reset and retry.
 *
 * Register accesses are synchronous and serialised by the VMM (one vCPU at
 * a time), as for vmvars/uefi_vars_device.h.
 */
#ifndef VMVARS_EXTVARSTORE_H
#define VMVARS_EXTVARSTORE_H

#include <vmvars/uefi_vars_device.h>
#include <vmvars/xenvar.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VV_EXTVAR_X86_PORT        0x100u
#define VV_EXTVAR_ARM_MMIO        0x09050000ULL
#define VV_EXTVAR_MAGIC           0xECu
#define VV_EXTVAR_FEATURE_CRC32   0x1u
#define VV_EXTVAR_FEATURE_TRANSFER 0x2u
#define VV_EXTVAR_STREAM_MAGIC    0xFFECu
#define VV_EXTVAR_KICK_MAGIC      0xFFEDu
#define VV_EXTVAR_INVALID_LEN     0xFFFFu

/*
 * Where each request goes: handle() has the contract of vv_xenvar_handle()
 * (buf holds size bytes, the request at offset 0; returns the response
 * length, 0 for none with buf unchanged).  reset() (may be NULL) is the
 * store side of a VM reset.
 */
struct vv_extvar_handler {
	size_t (*handle)(void *opaque, uint8_t *buf, size_t size);
	void (*reset)(void *opaque);
	void *opaque;
};

struct vv_extvar_config {
	/* false: Xen's doorbell (reads all-ones, no TRANSFER, no trailer) */
	bool feature_word;
	/* VV_EXTVAR_FEATURE_* offered to the guest (feature_word only) */
	uint32_t features;
};

struct vv_extvar_device;

/* NULL if h->handle is NULL or mem lacks read/write. */
struct vv_extvar_device *vv_extvar_device_new(const struct vv_extvar_handler *h,
					      const struct vv_guest_memory *mem,
					      const struct vv_extvar_config *cfg);
/* The same, requests going to an in-process engine; reset() signals
 * VV_EVENT_RESET to the store the engine was made with. */
struct vv_extvar_device *vv_extvar_device_new_engine(struct vv_xenvar *x, struct vv_store *s,
						     const struct vv_guest_memory *mem,
						     const struct vv_extvar_config *cfg);
void vv_extvar_device_free(struct vv_extvar_device *d);

/* Accesses at offset 0 (elsewhere: reads all-ones, writes ignored).  Reads
 * are 4 bytes; writes 4 bytes, or 8 for the ARM doorbell; other sizes are
 * ignored (reads all-ones). */
uint64_t vv_extvar_device_read(struct vv_extvar_device *d, uint64_t offset, unsigned size);
void vv_extvar_device_write(struct vv_extvar_device *d, uint64_t offset, uint64_t value,
			    unsigned size);

/* Full VM reset: the TRANSFER state machine idle and empty, and the
 * handler's reset (store: VV_EVENT_RESET). */
void vv_extvar_device_reset(struct vv_extvar_device *d);

struct vv_extvar_stats {
	uint64_t doorbells;
	uint64_t transfers;        /* kicks that ran a request */
	uint64_t bad_doorbells;    /* buffer outside guest memory */
	uint64_t bad_kicks;        /* wrong length, no data, overflow */
	uint64_t resets;           /* 0xFFFF kicks */
};
const struct vv_extvar_stats *vv_extvar_device_stats(const struct vv_extvar_device *d);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320, init and final XOR all-ones):
 * edk2's CalculateCrc32 and zlib's crc32(0, buf, len). */
uint32_t vv_extvar_crc32(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* VMVARS_EXTVARSTORE_H */
