/*
 * examples/guest_firmware.c -- the firmware's side of the uefi-vars device
 * (see guest_firmware.h).  Message layouts are those of device-abi §6-§8;
 * the PIO sequence is §5.2 step by step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_firmware.h"

#define HDR 24u
#define VAR_HDR 16u

static int
ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct fw_guest *g = opaque;

	if (gpa > FW_RAM_SIZE || len > FW_RAM_SIZE - gpa)
		return -1;
	memcpy(buf, g->ram + gpa, len);
	return 0;
}

static int
ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct fw_guest *g = opaque;

	if (gpa > FW_RAM_SIZE || len > FW_RAM_SIZE - gpa)
		return -1;
	memcpy(g->ram + gpa, buf, len);
	return 0;
}

static struct vv_guest_memory fw_mem_template = { ram_read, ram_write, NULL };

const struct vv_guest_memory *
fw_guest_memory(struct fw_guest *g)
{
	static struct vv_guest_memory m;

	m = fw_mem_template;
	m.opaque = g;
	return &m;
}

int
fw_guest_alloc(struct fw_guest *g, bool pio)
{
	memset(g, 0, sizeof(*g));
	g->pio = pio;
	g->ram = calloc(1, FW_RAM_SIZE);
	g->msg = calloc(1, VV_MM_MAX_BUFFER);
	return g->ram != NULL && g->msg != NULL ? 0 : -1;
}

void
fw_guest_release(struct fw_guest *g)
{
	free(g->ram);
	free(g->msg);
	g->ram = g->msg = NULL;
}

static uint32_t
reg_read(struct fw_guest *g, unsigned off, unsigned size)
{
	return (uint32_t)vv_uefi_vars_device_read(g->dev, off, size);
}

static void
reg_write(struct fw_guest *g, unsigned off, uint32_t v, unsigned size)
{
	vv_uefi_vars_device_write(g->dev, off, v, size);
}

/* Writes a command and polls CMD_STS as edk2 does (it is synchronous here,
 * so the first read already holds the result). */
static uint16_t
run_command(struct fw_guest *g, uint16_t cmd)
{
	uint16_t sts;
	int tries = 0;

	reg_write(g, VV_REG_CMD_STS, cmd, 2);
	do
		sts = (uint16_t)reg_read(g, VV_REG_CMD_STS, 2);
	while (sts == VV_STS_BUSY && ++tries < 100);
	return sts;
}

int
fw_guest_init(struct fw_guest *g, struct vv_uefi_vars_device *dev, char *why, size_t whylen)
{
	uint64_t size;
	vv_status st;

	g->dev = dev;
	if (reg_read(g, VV_REG_MAGIC, 2) != VV_UEFI_VARS_MAGIC) {
		snprintf(why, whylen, "bad magic");
		return -1;
	}
	if (run_command(g, VV_CMD_RESET) != VV_STS_SUCCESS) {
		snprintf(why, whylen, "reset failed");
		return -1;
	}
	reg_write(g, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER, 4);
	g->pio = (reg_read(g, VV_REG_FLAGS, 4) & VV_FLAG_USE_PIO) != 0;
	if (!g->pio) {
		reg_write(g, VV_REG_DMA_ADDR_LO, FW_COMM_GPA, 4);
		reg_write(g, VV_REG_DMA_ADDR_HI, 0, 4);
	}
	/* VariableSmmRuntimeDxe asks for the payload size first. */
	memset(g->msg, 0, HDR + VAR_HDR + 8);
	memcpy(g->msg, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(g->msg + 16, VAR_HDR + 8);
	vv_put_le64(g->msg + HDR, VV_MM_GET_PAYLOAD_SIZE);
	if (fw_communicate(g, HDR + VAR_HDR + 8) != VV_STS_SUCCESS) {
		snprintf(why, whylen, "GetPayloadSize: transport status 0x%x", g->last_sts);
		return -1;
	}
	st = vv_le64(g->msg + HDR + 8);
	size = vv_le64(g->msg + HDR + VAR_HDR);
	if (st != VV_EFI_SUCCESS || size == 0) {
		snprintf(why, whylen, "GetPayloadSize: %s", vv_status_name(st));
		return -1;
	}
	g->payload_size = size;
	return 0;
}

static uint16_t
communicate_dma(struct fw_guest *g, size_t len)
{
	uint16_t sts;

	memcpy(g->ram + FW_COMM_GPA, g->msg, len);
	sts = run_command(g, VV_CMD_DMA_MM);
	memcpy(g->msg, g->ram + FW_COMM_GPA, len);
	return sts;
}

static uint16_t
communicate_pio(struct fw_guest *g, size_t len)
{
	size_t rounded = (len + 3) & ~(size_t)3;
	uint16_t sts;

	run_command(g, VV_CMD_PIO_ZERO_OFFSET);
	for (size_t i = 0; i < rounded; i += 4)
		reg_write(g, VV_REG_PIO_TRANSFER, vv_le32(g->msg + i), 4);
	if (reg_read(g, VV_REG_PIO_CRC32C, 4) != vv_crc32c(g->msg, rounded))
		return 0xffff;
	sts = run_command(g, VV_CMD_PIO_MM);
	run_command(g, VV_CMD_PIO_ZERO_OFFSET);
	for (size_t i = 0; i < rounded; i += 4)
		vv_put_le32(g->msg + i, reg_read(g, VV_REG_PIO_TRANSFER, 4));
	if (reg_read(g, VV_REG_PIO_CRC32C, 4) != vv_crc32c(g->msg, rounded))
		return 0xffff;
	return sts;
}

uint16_t
fw_communicate(struct fw_guest *g, size_t len)
{
	/* PIO rounds up to 4 bytes: keep the tail of the message zero. */
	if (len + 3 < VV_MM_MAX_BUFFER)
		memset(g->msg + len, 0, 3);
	g->requests++;
	g->last_sts = g->pio ? communicate_pio(g, len) : communicate_dma(g, len);
	return g->last_sts;
}

/* Starts an SMM variable message; returns a pointer to its payload. */
static uint8_t *
begin_var(struct fw_guest *g, uint64_t function, uint64_t payload_len)
{
	memset(g->msg, 0, HDR + VAR_HDR + payload_len);
	memcpy(g->msg, VV_GUID_SMM_VARIABLE.b, 16);
	vv_put_le64(g->msg + 16, VAR_HDR + payload_len);
	vv_put_le64(g->msg + HDR, function);
	return g->msg + HDR + VAR_HDR;
}

/* Sends the message begun by begin_var; its EFI status, or
 * EFI_DEVICE_ERROR when the transport failed (what edk2 reports). */
static vv_status
finish_var(struct fw_guest *g, uint64_t payload_len)
{
	if (fw_communicate(g, HDR + VAR_HDR + payload_len) != VV_STS_SUCCESS)
		return VV_EFI_DEVICE_ERROR;
	return vv_le64(g->msg + HDR + 8);
}

static void
put_name(uint8_t *p, const uint16_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		vv_put_le16(p + 2 * i, name[i]);
	vv_put_le16(p + 2 * len, 0);
}

vv_status
fw_get_variable(struct fw_guest *g, const uint16_t *name, size_t len, const vv_guid *guid,
		uint32_t *attr, void *data, uint64_t *size)
{
	uint64_t name_size = (len + 1) * 2, data_size = *size, room;
	uint8_t *p;
	vv_status st;

	/* The front end clamps DataSize to what fits the payload. */
	room = g->payload_size - 36 - name_size;
	if (data_size > room)
		data_size = room;
	p = begin_var(g, VV_MM_GET_VARIABLE, 36 + name_size + data_size);
	memcpy(p, guid->b, 16);
	vv_put_le64(p + 16, data_size);
	vv_put_le64(p + 24, name_size);
	put_name(p + 36, name, len);
	st = finish_var(g, 36 + name_size + data_size);
	if (st == VV_EFI_SUCCESS || st == VV_EFI_BUFFER_TOO_SMALL) {
		*size = vv_le64(p + 16);
		if (attr != NULL)
			*attr = vv_le32(p + 32);
		if (st == VV_EFI_SUCCESS && data != NULL)
			memcpy(data, p + 36 + name_size, *size);
	}
	return st;
}

vv_status
fw_set_variable(struct fw_guest *g, const uint16_t *name, size_t len, const vv_guid *guid,
		uint32_t attr, const void *data, uint64_t size)
{
	uint64_t name_size = (len + 1) * 2;
	uint8_t *p;

	if (36 + name_size + size > g->payload_size)
		return VV_EFI_INVALID_PARAMETER;    /* the front end refuses */
	p = begin_var(g, VV_MM_SET_VARIABLE, 36 + name_size + size);
	memcpy(p, guid->b, 16);
	vv_put_le64(p + 16, size);
	vv_put_le64(p + 24, name_size);
	vv_put_le32(p + 32, attr);
	put_name(p + 36, name, len);
	if (size)
		memcpy(p + 36 + name_size, data, size);
	return finish_var(g, 36 + name_size + size);
}

vv_status
fw_get_next_variable_name(struct fw_guest *g, uint64_t *name_size, uint16_t *name, vv_guid *guid)
{
	uint64_t in_size = 0, out_size;
	uint8_t *p;
	vv_status st;

	while (in_size < *name_size && name[in_size / 2] != 0)
		in_size += 2;
	in_size += 2;
	out_size = *name_size > in_size ? *name_size : in_size;
	p = begin_var(g, VV_MM_GET_NEXT_VARIABLE_NAME, 24 + out_size);
	memcpy(p, guid->b, 16);
	vv_put_le64(p + 16, out_size);
	for (uint64_t i = 0; i + 2 <= in_size; i += 2)
		vv_put_le16(p + 24 + i, name[i / 2]);
	st = finish_var(g, 24 + out_size);
	if (st == VV_EFI_SUCCESS) {
		uint64_t got = vv_le64(p + 16);

		memcpy(guid->b, p, 16);
		for (uint64_t i = 0; i + 2 <= got; i += 2)
			name[i / 2] = vv_le16(p + 24 + i);
		*name_size = got;
	} else if (st == VV_EFI_BUFFER_TOO_SMALL) {
		*name_size = vv_le64(p + 16);
	}
	return st;
}

vv_status
fw_query_variable_info(struct fw_guest *g, uint32_t attr, uint64_t *max, uint64_t *remaining,
		       uint64_t *maxvar)
{
	uint8_t *p = begin_var(g, VV_MM_QUERY_VARIABLE_INFO, 32);
	vv_status st;

	vv_put_le32(p + 24, attr);
	st = finish_var(g, 32);
	if (st == VV_EFI_SUCCESS) {
		*max = vv_le64(p);
		*remaining = vv_le64(p + 8);
		*maxvar = vv_le64(p + 16);
	}
	return st;
}

vv_status
fw_smm_function(struct fw_guest *g, uint64_t function)
{
	begin_var(g, function, 0);
	return finish_var(g, 0);
}

uint16_t
fw_event(struct fw_guest *g, const vv_guid *event)
{
	memset(g->msg, 0, HDR + 1);
	memcpy(g->msg, event->b, 16);
	vv_put_le64(g->msg + 16, 1);
	return fw_communicate(g, HDR + 1);
}

size_t
fw_policy_entry(uint8_t *out, const vv_guid *ns, const uint16_t *name, size_t len, uint32_t min,
		uint32_t max, uint32_t must, uint32_t cant, uint8_t type)
{
	size_t size = VV_POLICY_ENTRY_FIXED_SIZE + (len ? (len + 1) * 2 : 0);

	memset(out, 0, size);
	vv_put_le32(out, VV_POLICY_ENTRY_REVISION);
	vv_put_le16(out + 4, (uint16_t)size);
	vv_put_le16(out + 6, VV_POLICY_ENTRY_FIXED_SIZE);
	memcpy(out + 8, ns->b, 16);
	vv_put_le32(out + 24, min);
	vv_put_le32(out + 28, max);
	vv_put_le32(out + 32, must);
	vv_put_le32(out + 36, cant);
	out[40] = type;
	if (len)
		put_name(out + VV_POLICY_ENTRY_FIXED_SIZE, name, len);
	return size;
}

vv_status
fw_policy_register(struct fw_guest *g, const uint8_t *entry, size_t size)
{
	/* edk2 sends VAR_CHECK_POLICY_MM_COMM_BUFFER_SIZE - 24 bytes. */
	size_t msg_len = 16384 - HDR;

	memset(g->msg, 0, HDR + msg_len);
	memcpy(g->msg, VV_GUID_VAR_CHECK_POLICY_MMI.b, 16);
	vv_put_le64(g->msg + 16, msg_len);
	vv_put_le32(g->msg + HDR, VV_POLICY_COMM_SIGNATURE);
	vv_put_le32(g->msg + HDR + 4, VV_POLICY_COMM_REVISION);
	vv_put_le32(g->msg + HDR + 8, VV_POLICY_CMD_REGISTER);
	memcpy(g->msg + HDR + VV_MM_POLICY_HEADER_SIZE, entry, size);
	if (fw_communicate(g, HDR + msg_len) != VV_STS_SUCCESS)
		return VV_EFI_DEVICE_ERROR;
	return vv_le64(g->msg + HDR + 12);
}
