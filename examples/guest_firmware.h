/*
 * examples/guest_firmware.h -- the firmware's side of the uefi-vars device,
 * as edk2's VirtMmCommunicationDxe and VariableSmmRuntimeDxe drive it
 * (device-abi §5): the init handshake, then one MM request per variable
 * service call, through DMA or through the PIO window with CRC-32C checks.
 *
 * It also plays the VMM's part of a guest: a small array stands for guest
 * RAM and is handed to the device through the guest-memory callbacks.
 * Used by examples/firmware_boot.c and by the tests.
 */
#ifndef VMVARS_GUEST_FIRMWARE_H
#define VMVARS_GUEST_FIRMWARE_H

#include <vmvars/vmvars.h>

#define FW_RAM_SIZE  (1u << 20)
#define FW_COMM_GPA  0x10000u          /* where the 64 KiB buffer lives */

struct fw_guest {
	struct vv_uefi_vars_device *dev;
	bool pio;
	uint8_t *ram;                      /* FW_RAM_SIZE bytes of "guest RAM" */
	uint8_t *msg;                      /* 64 KiB: the request being built */
	uint16_t last_sts;                 /* transport status of the last call */
	uint64_t payload_size;             /* from GetPayloadSize */
	unsigned requests;
};

/* The guest-memory callbacks for a device that serves this guest. */
extern const struct vv_guest_memory *fw_guest_memory(struct fw_guest *g);

/* Allocates the RAM; call before creating the device with fw_guest_memory(). */
int fw_guest_alloc(struct fw_guest *g, bool pio);
void fw_guest_release(struct fw_guest *g);

/* The edk2 handshake (§5.1): magic, RESET + poll, BUFFER_SIZE 64 KiB,
 * FLAGS, DMA address; then GetPayloadSize.  0 or -1 (with a message). */
int fw_guest_init(struct fw_guest *g, struct vv_uefi_vars_device *dev, char *why, size_t whylen);

/* One raw MM exchange of len bytes in g->msg (§5.2).  Returns the transport
 * status, or 0xffff when the PIO CRC check fails. */
uint16_t fw_communicate(struct fw_guest *g, size_t len);

/* Variable services, framed as VariableSmmRuntimeDxe frames them. */
vv_status fw_get_variable(struct fw_guest *g, const uint16_t *name, size_t len,
			  const vv_guid *guid, uint32_t *attr, void *data, uint64_t *size);
vv_status fw_set_variable(struct fw_guest *g, const uint16_t *name, size_t len,
			  const vv_guid *guid, uint32_t attr, const void *data, uint64_t size);
/* name holds the previous name (NUL-terminated) in a buffer of *name_size
 * bytes; updated in place like the UEFI service. */
vv_status fw_get_next_variable_name(struct fw_guest *g, uint64_t *name_size, uint16_t *name,
				    vv_guid *guid);
vv_status fw_query_variable_info(struct fw_guest *g, uint32_t attr, uint64_t *max,
				 uint64_t *remaining, uint64_t *maxvar);
/* SMM function 5 or 6 (ReadyToBoot / ExitBootServices). */
vv_status fw_smm_function(struct fw_guest *g, uint64_t function);
/* An event message (§5.3): HeaderGuid = event, one zero byte. */
uint16_t fw_event(struct fw_guest *g, const vv_guid *event);
/* Policy REGISTER of one VARIABLE_POLICY_ENTRY; returns its Result. */
vv_status fw_policy_register(struct fw_guest *g, const uint8_t *entry, size_t size);
/* Builds a VARIABLE_POLICY_ENTRY (types 0-2) into out; returns its size. */
size_t fw_policy_entry(uint8_t *out, const vv_guid *ns, const uint16_t *name, size_t len,
		       uint32_t min, uint32_t max, uint32_t must, uint32_t cant, uint8_t type);

#endif
