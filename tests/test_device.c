/*
 * tests/test_device.c -- the uefi-vars register block (device-abi §3-§5,
 * §18): register decoding and access sizes, the edk2 initialisation and
 * per-request sequences in DMA and PIO mode, the transport statuses, the
 * resets, and the bugs of §18 / §18.1 that must not come back.
 *
 * Requests are built here byte for byte at the offsets of device-abi §6.1,
 * §7.1 and §7.3 and run through the real store and MM endpoint.  Guest RAM
 * is a malloc'd array whose callbacks refuse any range outside it.
 */
#include <vmvars/backend.h>
#include <vmvars/mm.h>
#include <vmvars/store.h>
#include <vmvars/uefi_vars_device.h>

#include "harness.h"

/* ---- wire offsets (device-abi §6.1, §7.1, §7.3) ---- */

#define OFF_HEADER_GUID     0
#define OFF_MESSAGE_LENGTH  16
#define OFF_FUNCTION        24
#define OFF_RETURN_STATUS   32
#define OFF_PAYLOAD         40
/* SMM_VARIABLE_COMMUNICATE_ACCESS_VARIABLE, relative to OFF_PAYLOAD */
#define AV_GUID             0
#define AV_DATA_SIZE        16
#define AV_NAME_SIZE        24
#define AV_ATTRIBUTES       32
#define AV_NAME             36

/* ed32d533-99e6-4209-9cc0-2d72cdd998a7, gEfiSmmVariableProtocolGuid */
static const uint8_t smm_variable_guid[16] = {
	0x33, 0xd5, 0x32, 0xed, 0xe6, 0x99, 0x09, 0x42,
	0x9c, 0xc0, 0x2d, 0x72, 0xcd, 0xd9, 0x98, 0xa7,
};
/* 02ce967a-dd7e-4ffc-9ee7-810cf0470880, gEfiEndOfDxeEventGroupGuid */
static const uint8_t end_of_dxe_guid[16] = {
	0x7a, 0x96, 0xce, 0x02, 0x7e, 0xdd, 0xfc, 0x4f,
	0x9e, 0xe7, 0x81, 0x0c, 0xf0, 0x47, 0x08, 0x80,
};
/* 3f2504e0-4f89-11d3-9a0c-0305e82c3301: a GUID no dispatcher knows */
static const uint8_t unknown_guid[16] = {
	0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11,
	0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01,
};
/* 4d1ed05a-2b1c-4b6e-9d7e-5f2a6c0b11a1: the test variables' namespace */
static const uint8_t vendor_guid[16] = {
	0x5a, 0xd0, 0x1e, 0x4d, 0x1c, 0x2b, 0x6e, 0x4b,
	0x9d, 0x7e, 0x5f, 0x2a, 0x6c, 0x0b, 0x11, 0xa1,
};

#define ATTR_NV_BS_RT (VV_ATTR_NV | VV_ATTR_BS | VV_ATTR_RT)
#define ATTR_BS_RT    (VV_ATTR_BS | VV_ATTR_RT)
#define STATUS_SENTINEL 0x5a5a5a5a5a5a5a5aULL

/* ---- toy guest RAM ---- */

#define RAM_BASE  0x100000ULL
#define RAM_SIZE  (3u * 65536u)
#define COMM_GPA  (RAM_BASE + 0x10000)

struct toy_ram {
	uint8_t *bytes;
	bool refuse_writes;
	unsigned reads, writes;
	uint64_t last_write_gpa;
	size_t last_write_len;
};

/* Offset of [gpa, gpa + len) inside the RAM, or -1 if any byte is outside. */
static int64_t
ram_offset(uint64_t gpa, size_t len)
{
	uint64_t off;

	if (gpa < RAM_BASE)
		return -1;
	off = gpa - RAM_BASE;
	if (off > RAM_SIZE || len > RAM_SIZE - off)
		return -1;
	return (int64_t)off;
}

static int
ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct toy_ram *r = opaque;
	int64_t off = ram_offset(gpa, len);

	if (off < 0)
		return -1;
	memcpy(buf, r->bytes + off, len);
	r->reads++;
	return 0;
}

static int
ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct toy_ram *r = opaque;
	int64_t off = ram_offset(gpa, len);

	if (off < 0 || r->refuse_writes)
		return -1;
	memcpy(r->bytes + off, buf, len);
	r->writes++;
	r->last_write_gpa = gpa;
	r->last_write_len = len;
	return 0;
}

/* ---- the rig: store + MM endpoint + device + RAM ---- */

struct rig {
	struct vv_store *store;
	struct vv_mm *mm;
	struct vv_uefi_vars_device *dev;
	struct toy_ram ram;
	bool use_pio;
};

static void
rig_open(struct rig *r, bool use_pio, bool with_memory)
{
	struct vv_guest_memory mem = { ram_read, ram_write, &r->ram };
	struct vv_backend *backend;

	memset(r, 0, sizeof(*r));
	r->use_pio = use_pio;
	r->ram.bytes = malloc(RAM_SIZE);
	REQUIRE(r->ram.bytes != NULL);
	memset(r->ram.bytes, 0xcc, RAM_SIZE);
	r->store = vv_store_new(NULL);
	REQUIRE(r->store != NULL);
	backend = vv_null_backend_new();
	REQUIRE(backend != NULL);
	vv_store_set_backend(r->store, backend);
	r->mm = vv_mm_new(r->store, NULL);
	REQUIRE(r->mm != NULL);
	r->dev = vv_uefi_vars_device_new(r->mm, with_memory ? &mem : NULL, use_pio);
	REQUIRE(r->dev != NULL);
}

static void
rig_close(struct rig *r)
{
	vv_uefi_vars_device_free(r->dev);
	vv_mm_free(r->mm);
	vv_store_free(r->store);
	free(r->ram.bytes);
}

static uint16_t
rd16(struct rig *r, uint64_t off)
{
	return (uint16_t)vv_uefi_vars_device_read(r->dev, off, 2);
}

static uint32_t
rd32(struct rig *r, uint64_t off)
{
	return (uint32_t)vv_uefi_vars_device_read(r->dev, off, 4);
}

static void
wr16(struct rig *r, uint64_t off, uint16_t v)
{
	vv_uefi_vars_device_write(r->dev, off, v, 2);
}

static void
wr32(struct rig *r, uint64_t off, uint32_t v)
{
	vv_uefi_vars_device_write(r->dev, off, v, 4);
}

/* edk2 VirtMmHwCommand: 16-bit write, then the status (§5.1, §5.2). */
static uint16_t
command(struct rig *r, uint16_t cmd)
{
	wr16(r, VV_REG_CMD_STS, cmd);
	return rd16(r, VV_REG_CMD_STS);
}

static void
set_dma_address(struct rig *r, uint64_t gpa)
{
	wr32(r, VV_REG_DMA_ADDR_LO, (uint32_t)gpa);
	wr32(r, VV_REG_DMA_ADDR_HI, (uint32_t)(gpa >> 32));
}

/* edk2 VirtMmHwInit (device-abi §5.1), steps 3-6. */
static void
edk2_init(struct rig *r)
{
	REQUIRE(rd16(r, VV_REG_MAGIC) == VV_UEFI_VARS_MAGIC);
	REQUIRE(command(r, VV_CMD_RESET) == VV_STS_SUCCESS);
	wr32(r, VV_REG_BUFFER_SIZE, VV_MM_MAX_BUFFER);
	if ((rd32(r, VV_REG_FLAGS) & VV_FLAG_USE_PIO) == 0)
		set_dma_address(r, COMM_GPA);
}

/* ---- request builders ---- */

static uint8_t req[VV_MM_MAX_BUFFER + 8];
static uint8_t before[VV_MM_MAX_BUFFER + 8];

/* EFI_MM_COMMUNICATE_HEADER; returns 24 + message_length. */
static uint64_t
put_mm_header(uint8_t *buf, const uint8_t guid[16], uint64_t message_length)
{
	memcpy(buf + OFF_HEADER_GUID, guid, 16);
	vv_put_le64(buf + OFF_MESSAGE_LENGTH, message_length);
	return VV_MM_HEADER_SIZE + message_length;
}

/* SMM variable request with a payload_len-byte payload; ReturnStatus holds
 * a sentinel so that a test sees the endpoint write it. */
static size_t
put_var_request(uint8_t *buf, uint64_t function, size_t payload_len)
{
	memset(buf, 0, sizeof(req));
	put_mm_header(buf, smm_variable_guid, VV_MM_VAR_HEADER_SIZE + payload_len);
	vv_put_le64(buf + OFF_FUNCTION, function);
	vv_put_le64(buf + OFF_RETURN_STATUS, STATUS_SENTINEL);
	return OFF_PAYLOAD + payload_len;
}

static size_t
put_get_payload_size(uint8_t *buf)
{
	return put_var_request(buf, VV_MM_GET_PAYLOAD_SIZE, 8);
}

static size_t
name_size(const char *ascii)
{
	return (strlen(ascii) + 1) * 2;
}

/*
 * SMM_VARIABLE_COMMUNICATE_ACCESS_VARIABLE (functions 1 and 3).  For
 * SetVariable data holds data_size bytes; for GetVariable data is NULL and
 * data_size is the caller's capacity.
 */
static size_t
put_access_variable(uint8_t *buf, uint64_t function, const char *ascii_name,
		    uint32_t attributes, const void *data, size_t data_size)
{
	size_t nsize = name_size(ascii_name);
	size_t len = put_var_request(buf, function, AV_NAME + nsize + data_size);
	uint8_t *p = buf + OFF_PAYLOAD;

	memcpy(p + AV_GUID, vendor_guid, 16);
	vv_put_le64(p + AV_DATA_SIZE, data_size);
	vv_put_le64(p + AV_NAME_SIZE, nsize);
	vv_put_le32(p + AV_ATTRIBUTES, attributes);
	for (size_t i = 0; ascii_name[i] != '\0'; i++)
		vv_put_le16(p + AV_NAME + 2 * i, (uint8_t)ascii_name[i]);
	if (data != NULL)
		memcpy(p + AV_NAME + nsize, data, data_size);
	return len;
}

/* ---- transports as edk2 drives them ---- */

/* DMA (device-abi §5.2): copy in, DMA_MM, poll, copy back. */
static uint16_t
dma_exchange(struct rig *r, uint8_t *buf, size_t len)
{
	uint16_t sts;

	memcpy(r->ram.bytes + (COMM_GPA - RAM_BASE), buf, len);
	sts = command(r, VV_CMD_DMA_MM);
	memcpy(buf, r->ram.bytes + (COMM_GPA - RAM_BASE), len);
	return sts;
}

static size_t
round_up4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* edk2 VirtMmHwPioTransfer: ZERO_OFFSET, 32-bit transfers of the length
 * rounded up to 4, then the CRC of those bytes against the register. */
static void
pio_transfer(struct rig *r, uint8_t *buf, size_t len, bool to_device)
{
	size_t n = round_up4(len);

	REQUIRE(command(r, VV_CMD_PIO_ZERO_OFFSET) == VV_STS_SUCCESS);
	for (size_t i = 0; i < n; i += 4) {
		if (to_device)
			wr32(r, VV_REG_PIO_TRANSFER, vv_le32(buf + i));
		else
			vv_put_le32(buf + i, rd32(r, VV_REG_PIO_TRANSFER));
	}
	CHECK_EQ(rd32(r, VV_REG_PIO_CRC32C), vv_crc32c(buf, n));
}

/* PIO (device-abi §5.2 steps 1-7).  The reply is read back whatever the
 * status, so that tests can see what the device left in its buffer. */
static uint16_t
pio_exchange(struct rig *r, uint8_t *buf, size_t len)
{
	uint16_t sts;

	pio_transfer(r, buf, len, true);
	sts = command(r, VV_CMD_PIO_MM);
	pio_transfer(r, buf, len, false);
	return sts;
}

static uint16_t
exchange(struct rig *r, uint8_t *buf, size_t len)
{
	return r->use_pio ? pio_exchange(r, buf, len) : dma_exchange(r, buf, len);
}

/* ---- CRC-32C ---- */

static uint32_t
crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void
test_crc32c(void)
{
	uint8_t data[1024];
	uint32_t x = 12345;

	CHECK_EQ(vv_crc32c("123456789", 9), 0xE3069283u);
	CHECK_EQ(vv_crc32c("", 0), 0);
	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 16);
	}
	for (size_t len = 0; len <= sizeof(data); len += 37)
		CHECK_EQ(vv_crc32c(data, len), crc32c_bitwise(data, len));
}

/* ---- registers ---- */

static void
test_power_on_registers(void)
{
	struct rig r;

	rig_open(&r, false, true);
	CHECK_EQ(rd16(&r, VV_REG_MAGIC), 0x0EF1);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), 0);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_HI), 0);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), 0);
	CHECK_EQ(rd32(&r, VV_REG_FLAGS), 0);
	/* Without a buffer a transfer reads 0. */
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0);
	rig_close(&r);

	rig_open(&r, true, false);
	CHECK_EQ(rd32(&r, VV_REG_FLAGS), VV_FLAG_USE_PIO);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), 0);
	rig_close(&r);

	CHECK(vv_uefi_vars_device_new(NULL, NULL, false) == NULL);
}

static void
test_edk2_init_handshake(void)
{
	struct rig r;

	rig_open(&r, false, true);
	CHECK_EQ(rd16(&r, VV_REG_MAGIC), VV_UEFI_VARS_MAGIC);
	wr16(&r, VV_REG_CMD_STS, VV_CMD_RESET);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_SUCCESS);
	wr32(&r, VV_REG_BUFFER_SIZE, 0x10000);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0x10000);
	CHECK_EQ(rd32(&r, VV_REG_FLAGS) & VV_FLAG_USE_PIO, 0);
	set_dma_address(&r, 0x123456789000ULL);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0x56789000u);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_HI), 0x1234u);
	/* A second RESET (a driver reloading) clears size and address. */
	CHECK_EQ(command(&r, VV_CMD_RESET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_HI), 0);
	rig_close(&r);
}

static void
test_buffer_size_clamp(void)
{
	struct rig r;

	rig_open(&r, true, false);
	wr32(&r, VV_REG_BUFFER_SIZE, 0x10001);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0x10000);
	wr32(&r, VV_REG_BUFFER_SIZE, 0xffffffffu);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0x10000);
	wr32(&r, VV_REG_BUFFER_SIZE, 100);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 100);
	wr32(&r, VV_REG_BUFFER_SIZE, 0);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0);
	rig_close(&r);
}

static void
test_command_status(void)
{
	struct rig r;

	rig_open(&r, false, true);
	CHECK_EQ(vv_mm_stats(r.mm)->transport_errors, 0);
	CHECK_EQ(command(&r, 0x00), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_EQ(command(&r, 0x05), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_EQ(command(&r, 0xffff), VV_STS_ERR_NOT_SUPPORTED);
	/* The status is the last command's, and stays until the next one. */
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_BAD_BUFFER_SIZE);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_ERR_BAD_BUFFER_SIZE);
	/* Every failed command is one transport error in the statistics. */
	CHECK_EQ(vv_mm_stats(r.mm)->transport_errors, 4);
	CHECK_EQ(vv_mm_stats(r.mm)->requests, 0);
	rig_close(&r);
}

static void
test_unknown_offsets(void)
{
	static const uint64_t holes[] = { 0x06, 0x0a, 0x0e, 0x12, 0x14, 0x16, 0x1a, 0x1e };
	struct rig r;
	uint32_t crc;

	rig_open(&r, true, false);
	edk2_init(&r);
	wr32(&r, VV_REG_PIO_TRANSFER, 0x11223344);
	crc = rd32(&r, VV_REG_PIO_CRC32C);
	for (size_t i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
		CHECK_EQ(rd16(&r, holes[i]), 0xffff);
		wr16(&r, holes[i], 0x0001);
		wr16(&r, holes[i], 0x0003);
	}
	CHECK_EQ(rd32(&r, 0x14), 0xffffffffu);
	wr32(&r, 0x14, 0x03);
	/* Outside the block. */
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x20, 2), UINT64_MAX);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x1000, 4), UINT64_MAX);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, UINT64_MAX - 3, 8), UINT64_MAX);
	vv_uefi_vars_device_write(r.dev, 0x22, VV_CMD_RESET, 2);
	vv_uefi_vars_device_write(r.dev, UINT64_MAX - 1, VV_CMD_RESET, 2);
	/* Bad sizes. */
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x00, 3), UINT64_MAX);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x00, 0), UINT64_MAX);
	vv_uefi_vars_device_write(r.dev, 0x02, VV_CMD_RESET, 3);
	/* Writes to read-only registers. */
	wr16(&r, VV_REG_MAGIC, 0x1234);
	wr32(&r, VV_REG_PIO_CRC32C, 0);
	wr32(&r, VV_REG_FLAGS, 0);
	CHECK_EQ(rd16(&r, VV_REG_MAGIC), VV_UEFI_VARS_MAGIC);
	CHECK_EQ(rd32(&r, VV_REG_FLAGS), VV_FLAG_USE_PIO);
	/* None of it ran a command, moved the offset or touched the buffer. */
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), VV_MM_MAX_BUFFER);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), crc);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0x11223344u);
	rig_close(&r);
}

static void
test_byte_and_qword_access(void)
{
	struct rig r;
	uint8_t two[2] = { 0xab, 0x00 };

	rig_open(&r, true, false);
	edk2_init(&r);
	/* 1 byte = a 2-byte access: the low byte of MAGIC, and nothing at an
	 * odd offset. */
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x00, 1), 0xf1);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x01, 1), 0xff);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x1c, 1), VV_FLAG_USE_PIO);
	/* A 1-byte command write works like the 2-byte one. */
	vv_uefi_vars_device_write(r.dev, 0x02, 0x0105, 1);  /* low byte: 0x05 */
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_ERR_NOT_SUPPORTED);
	vv_uefi_vars_device_write(r.dev, 0x02, VV_CMD_PIO_ZERO_OFFSET, 1);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_SUCCESS);

	/* 1-byte PIO write: two bytes moved, upper one zero, offset + 2. */
	wr32(&r, VV_REG_PIO_TRANSFER, 0xffffffffu);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	vv_uefi_vars_device_write(r.dev, VV_REG_PIO_TRANSFER, 0x77ab, 1);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(two, 2));
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0xffff00abu);
	/* 1-byte PIO read: two bytes consumed, the low one returned. */
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, VV_REG_PIO_TRANSFER, 1), 0xab);
	CHECK_EQ(rd16(&r, VV_REG_PIO_TRANSFER), 0xffff);

	/* 8 bytes = 4 at +0 and 4 at +4. */
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x00, 8),
		 ((uint64_t)VV_MM_MAX_BUFFER << 32) | VV_UEFI_VARS_MAGIC);
	vv_uefi_vars_device_write(r.dev, VV_REG_DMA_ADDR_LO, 0x123456789abcdef0ULL, 8);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0x9abcdef0u);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_HI), 0x12345678u);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, VV_REG_DMA_ADDR_LO, 8), 0x123456789abcdef0ULL);
	/* An 8-byte PIO access moves 4 bytes; its upper half hits the hole at
	 * 0x14 (device-abi §3). */
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	vv_uefi_vars_device_write(r.dev, VV_REG_PIO_TRANSFER, 0xdeadbeef01020304ULL, 8);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c("\x04\x03\x02\x01", 4));
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, VV_REG_PIO_TRANSFER, 8), 0xffffffff01020304ULL);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c("\x04\x03\x02\x01", 4));
	rig_close(&r);
}

static void
test_misaligned_access(void)
{
	struct rig r;

	rig_open(&r, false, true);
	edk2_init(&r);
	set_dma_address(&r, 0x1000);
	/* 4 bytes at 0x02 would span CMD_STS and BUFFER_SIZE: rejected. */
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x02, 4), UINT64_MAX);
	vv_uefi_vars_device_write(r.dev, 0x02, VV_CMD_RESET, 4);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), VV_MM_MAX_BUFFER);
	vv_uefi_vars_device_write(r.dev, 0x06, 0x1, 4);
	vv_uefi_vars_device_write(r.dev, 0x05, 0x1, 2);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), VV_MM_MAX_BUFFER);
	/* 8 bytes at 0x04 is not 8-aligned: no BUFFER_SIZE or address write. */
	vv_uefi_vars_device_write(r.dev, 0x04, 0x0000000500000010ULL, 8);
	CHECK_EQ(vv_uefi_vars_device_read(r.dev, 0x04, 8), UINT64_MAX);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), VV_MM_MAX_BUFFER);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0x1000);
	/* 2-byte access to a 32-bit register's own offset is decoded. */
	wr16(&r, VV_REG_DMA_ADDR_HI, 0x7);
	CHECK_EQ(rd16(&r, VV_REG_DMA_ADDR_HI), 0x7);
	CHECK_EQ(rd16(&r, VV_REG_CMD_STS), VV_STS_SUCCESS);
	rig_close(&r);
}

/* ---- PIO buffer ---- */

static void
test_pio_transfer_bounds(void)
{
	struct rig r;
	uint8_t expect[8];

	rig_open(&r, true, false);
	edk2_init(&r);
	wr32(&r, VV_REG_BUFFER_SIZE, 10);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	wr32(&r, VV_REG_PIO_TRANSFER, 0x04030201);
	wr32(&r, VV_REG_PIO_TRANSFER, 0x08070605);
	/* 4 bytes at offset 8 would end at 12 > 10: discarded, no advance. */
	wr32(&r, VV_REG_PIO_TRANSFER, 0xaaaaaaaa);
	for (int i = 0; i < 8; i++)
		expect[i] = (uint8_t)(i + 1);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(expect, 8));
	/* 2 bytes still fit and end exactly at buf_size. */
	wr16(&r, VV_REG_PIO_TRANSFER, 0x0a09);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c("\1\2\3\4\5\6\7\10\11\12", 10));
	wr16(&r, VV_REG_PIO_TRANSFER, 0xbbbb);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c("\1\2\3\4\5\6\7\10\11\12", 10));

	/* Reads: past the end gives 0 and does not advance. */
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0x04030201u);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0x08070605u);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(expect, 8));
	CHECK_EQ(rd16(&r, VV_REG_PIO_TRANSFER), 0x0a09);
	CHECK_EQ(rd16(&r, VV_REG_PIO_TRANSFER), 0);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c("\1\2\3\4\5\6\7\10\11\12", 10));
	rig_close(&r);
}

static void
test_crc_after_shrink(void)
{
	static const uint8_t zeros[16];
	struct rig r;

	rig_open(&r, true, false);
	edk2_init(&r);
	wr32(&r, VV_REG_BUFFER_SIZE, 64);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	for (int i = 0; i < 16; i++)
		wr32(&r, VV_REG_PIO_TRANSFER, 0xffffffffu);
	/* The offset (64) survives the resize, as in QEMU; the CRC covers
	 * min(offset, buf_size) bytes of the new, zeroed buffer. */
	wr32(&r, VV_REG_BUFFER_SIZE, 16);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(zeros, 16));
	/* Every transfer from an offset beyond the buffer is refused. */
	wr32(&r, VV_REG_PIO_TRANSFER, 0x12345678);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(zeros, 16));
	/* Soft RESET: no buffer at all; the CRC is that of nothing. */
	CHECK_EQ(command(&r, VV_CMD_RESET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), 0);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0);
	wr32(&r, VV_REG_BUFFER_SIZE, 8);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), vv_crc32c(zeros, 8));
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), 0);
	rig_close(&r);
}

/* CVE-2025-8860 (device-abi §18): every byte the guest can read back is
 * one it wrote or zero. */
static void
test_grown_buffer_reads_zero(void)
{
	struct rig r;
	uint32_t nonzero = 0;

	rig_open(&r, true, false);
	edk2_init(&r);
	wr32(&r, VV_REG_BUFFER_SIZE, 256);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	for (int i = 0; i < 64; i++)
		wr32(&r, VV_REG_PIO_TRANSFER, 0xdeadbeefu);
	wr32(&r, VV_REG_BUFFER_SIZE, 4096);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	for (int i = 0; i < 1024; i++)
		nonzero |= rd32(&r, VV_REG_PIO_TRANSFER);
	CHECK_EQ(nonzero, 0);
	/* The same size again also starts from zeros. */
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	wr32(&r, VV_REG_PIO_TRANSFER, 0xdeadbeefu);
	wr32(&r, VV_REG_BUFFER_SIZE, 4096);
	CHECK_EQ(command(&r, VV_CMD_PIO_ZERO_OFFSET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_PIO_TRANSFER), 0);
	rig_close(&r);
}

/* ---- transport statuses ---- */

/*
 * Invariant (2): the handler sees zeros beyond the request even though the
 * device zeroes only what the last request used.  A handler that checks
 * [24 + MessageLength, buf_size) on every call and answers in place; a
 * 4000-byte request of 0x5a, then a 100-byte one (and a refused header
 * between), by DMA and by PIO.
 */
struct tail_check {
	unsigned calls, stale;
};

static uint16_t
tail_handle(void *opaque, uint8_t *buf, size_t buf_size)
{
	struct tail_check *t = opaque;
	uint64_t total = VV_MM_HEADER_SIZE + vv_le64(buf + OFF_MESSAGE_LENGTH);

	t->calls++;
	for (size_t i = (size_t)total; i < buf_size; i++)
		if (buf[i] != 0) {
			t->stale++;
			break;
		}
	memset(buf + VV_MM_HEADER_SIZE, 0x77, (size_t)total - VV_MM_HEADER_SIZE);
	return VV_STS_SUCCESS;
}

static void
test_handler_sees_zero_tail(void)
{
	for (int pio = 0; pio < 2; pio++) {
		struct tail_check t = { 0 };
		struct vv_mm_handler h = { tail_handle, NULL, &t };
		struct rig r;
		size_t len;

		rig_open(&r, pio, true);
		vv_uefi_vars_device_free(r.dev);
		{
			struct vv_guest_memory mem = { ram_read, ram_write, &r.ram };

			r.dev = vv_uefi_vars_device_new_handler(&h, &mem, pio);
		}
		REQUIRE(r.dev != NULL);
		edk2_init(&r);
		memset(req, 0x5a, 4000);
		len = put_mm_header(req, unknown_guid, 4000 - VV_MM_HEADER_SIZE);
		CHECK_EQ(exchange(&r, req, len), VV_STS_SUCCESS);
		/* MessageLength past the buffer: refused after the header */
		memset(req, 0x5a, 64);
		put_mm_header(req, unknown_guid, VV_MM_MAX_BUFFER);
		CHECK_EQ(exchange(&r, req, 64), VV_STS_ERR_BAD_BUFFER_SIZE);
		memset(req, 0x5a, 100);
		len = put_mm_header(req, unknown_guid, 100 - VV_MM_HEADER_SIZE);
		CHECK_EQ(exchange(&r, req, len), VV_STS_SUCCESS);
		CHECK_EQ(req[99], 0x77);
		CHECK_EQ(t.calls, 2);
		CHECK_EQ(t.stale, 0);
		rig_close(&r);
	}
}

static void
test_no_or_small_buffer(void)
{
	struct rig r;

	for (int pio = 0; pio <= 1; pio++) {
		uint16_t cmd = pio ? VV_CMD_PIO_MM : VV_CMD_DMA_MM;

		rig_open(&r, pio, true);
		set_dma_address(&r, COMM_GPA);
		put_get_payload_size(req);
		memcpy(r.ram.bytes + (COMM_GPA - RAM_BASE), req, 48);
		memcpy(before, r.ram.bytes, 48);
		/* No buffer allocated at all. */
		CHECK_EQ(command(&r, cmd), VV_STS_ERR_BAD_BUFFER_SIZE);
		/* buf_size < 24: not even the header fits. */
		wr32(&r, VV_REG_BUFFER_SIZE, 23);
		set_dma_address(&r, COMM_GPA);
		CHECK_EQ(command(&r, cmd), VV_STS_ERR_BAD_BUFFER_SIZE);
		/* After RESET the buffer is gone again. */
		wr32(&r, VV_REG_BUFFER_SIZE, 4096);
		CHECK_EQ(command(&r, VV_CMD_RESET), VV_STS_SUCCESS);
		set_dma_address(&r, COMM_GPA);
		CHECK_EQ(command(&r, cmd), VV_STS_ERR_BAD_BUFFER_SIZE);
		CHECK_EQ(r.ram.reads, 0);
		CHECK_EQ(r.ram.writes, 0);
		CHECK_MEM(r.ram.bytes, before, 48);
		rig_close(&r);
	}
}

/* MessageLength too large for the buffer, or overflowing 24 + length
 * (device-abi §3.2, §4): 0x12, nothing written back. */
static void
test_message_length_checks(void)
{
	static const uint64_t lengths[] = {
		UINT64_MAX, UINT64_MAX - 23, UINT64_MAX - 24, VV_MM_MAX_BUFFER - 23, 1ULL << 32,
	};
	struct rig r;

	for (int pio = 0; pio <= 1; pio++) {
		rig_open(&r, pio, true);
		edk2_init(&r);
		for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
			uint8_t got[64];

			put_get_payload_size(req);
			vv_put_le64(req + OFF_MESSAGE_LENGTH, lengths[i]);
			memcpy(got, req, sizeof(got));
			if (pio) {
				CHECK_EQ(pio_exchange(&r, got, sizeof(got)), VV_STS_ERR_BAD_BUFFER_SIZE);
				CHECK_MEM(got, req, sizeof(got));
			} else {
				/* got is guest memory after the command. */
				CHECK_EQ(dma_exchange(&r, got, sizeof(got)), VV_STS_ERR_BAD_BUFFER_SIZE);
				CHECK_MEM(got, req, sizeof(got));
				CHECK_EQ(r.ram.writes, 0);
			}
		}
		/* A smaller negotiated buffer bounds MessageLength the same way:
		 * 24 + 41 is one byte more than 64. */
		wr32(&r, VV_REG_BUFFER_SIZE, 64);
		set_dma_address(&r, COMM_GPA);
		put_get_payload_size(req);
		vv_put_le64(req + OFF_MESSAGE_LENGTH, 41);
		memcpy(before, req, 64);
		CHECK_EQ(exchange(&r, req, 64), VV_STS_ERR_BAD_BUFFER_SIZE);
		CHECK_MEM(req, before, 64);
		CHECK_EQ(r.ram.writes, 0);
		/* 24 + 40 fits exactly. */
		vv_put_le64(req + OFF_MESSAGE_LENGTH, 40);
		CHECK_EQ(exchange(&r, req, 64), VV_STS_SUCCESS);
		CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
		CHECK_EQ(vv_le64(req + OFF_PAYLOAD), 64 - 40);
		rig_close(&r);
	}
}

static void
test_dma_address_refused(void)
{
	struct rig r;
	uint64_t edge = RAM_BASE + RAM_SIZE - 30;
	size_t len;

	rig_open(&r, false, true);
	edk2_init(&r);
	memcpy(before, r.ram.bytes, 4096);

	/* Address below RAM. */
	set_dma_address(&r, 0x1000);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_UNKNOWN);
	/* Address whose 24 + length wraps around 2^64. */
	set_dma_address(&r, UINT64_MAX - 15);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_UNKNOWN);
	CHECK_EQ(r.ram.writes, 0);

	/* Header inside RAM, body beyond its end: the store never sees the
	 * SetVariable. */
	len = put_access_variable(req, VV_MM_SET_VARIABLE, "Edge", ATTR_BS_RT, "abcd", 4);
	memcpy(r.ram.bytes + (edge - RAM_BASE), req, 30);
	set_dma_address(&r, edge);
	CHECK(len > 30);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_UNKNOWN);
	CHECK_EQ(r.ram.writes, 0);
	CHECK(vv_store_find(r.store, (const uint16_t *)u"Edge", 4,
			    (const vv_guid *)vendor_guid) == NULL);
	CHECK_MEM(r.ram.bytes, before, 4096);

	/* Write-back refused. */
	set_dma_address(&r, COMM_GPA);
	r.ram.refuse_writes = true;
	len = put_get_payload_size(req);
	CHECK_EQ(dma_exchange(&r, req, len), VV_STS_ERR_UNKNOWN);
	CHECK_EQ(vv_le64(req + OFF_RETURN_STATUS), STATUS_SENTINEL);
	/* Four refusals, each counted once; one request reached the endpoint. */
	CHECK_EQ(vv_mm_stats(r.mm)->transport_errors, 4);
	CHECK_EQ(vv_mm_stats(r.mm)->requests, 1);
	rig_close(&r);

	/* A VMM that gave no guest memory (PIO only): DMA is a device error. */
	rig_open(&r, true, false);
	edk2_init(&r);
	set_dma_address(&r, COMM_GPA);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_UNKNOWN);
	rig_close(&r);
}

/* ---- MM requests end to end ---- */

static void
check_payload_size_reply(const uint8_t *reply, uint64_t buf_size)
{
	CHECK_MEM(reply + OFF_HEADER_GUID, smm_variable_guid, 16);
	CHECK_EQ(vv_le64(reply + OFF_MESSAGE_LENGTH), 24);
	CHECK_EQ(vv_le64(reply + OFF_FUNCTION), VV_MM_GET_PAYLOAD_SIZE);
	CHECK_STATUS(vv_le64(reply + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
	/* device-abi §7.4: buf_size - 24 - 16. */
	CHECK_EQ(vv_le64(reply + OFF_PAYLOAD), buf_size - 40);
}

static void
test_dma_get_payload_size(void)
{
	struct rig r;
	size_t len;

	rig_open(&r, false, true);
	edk2_init(&r);
	len = put_get_payload_size(req);
	CHECK_EQ(len, 48);
	CHECK_EQ(dma_exchange(&r, req, len), VV_STS_SUCCESS);
	check_payload_size_reply(req, VV_MM_MAX_BUFFER);
	CHECK_EQ(vv_le64(req + OFF_PAYLOAD), 65496);
	/* Exactly 24 + MessageLength bytes went back, to the same address. */
	CHECK_EQ(r.ram.writes, 1);
	CHECK_EQ(r.ram.last_write_gpa, COMM_GPA);
	CHECK_EQ(r.ram.last_write_len, 48);
	CHECK_EQ(r.ram.bytes[COMM_GPA - RAM_BASE + 48], 0xcc);
	rig_close(&r);
}

static void
check_roundtrip(struct rig *r)
{
	static const uint8_t value[5] = { 'v', 'a', 'l', 'u', 'e' };
	size_t len, nsize = name_size("DevVar");
	const uint8_t *p = req + OFF_PAYLOAD;

	len = put_get_payload_size(req);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	check_payload_size_reply(req, VV_MM_MAX_BUFFER);

	len = put_access_variable(req, VV_MM_SET_VARIABLE, "DevVar", ATTR_NV_BS_RT, value, 5);
	CHECK_EQ(len, 40 + 36 + 14 + 5);
	CHECK_EQ(vv_le64(req + OFF_MESSAGE_LENGTH), 16 + 36 + 14 + 5);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_count(r->store), 1);

	/* GetVariable with room for 16 bytes. */
	len = put_access_variable(req, VV_MM_GET_VARIABLE, "DevVar", 0, NULL, 16);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_EQ(vv_le64(req + OFF_MESSAGE_LENGTH), 16 + 36 + 14 + 16);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
	CHECK_MEM(p + AV_GUID, vendor_guid, 16);
	CHECK_EQ(vv_le64(p + AV_DATA_SIZE), 5);
	CHECK_EQ(vv_le64(p + AV_NAME_SIZE), nsize);
	CHECK_EQ(vv_le32(p + AV_ATTRIBUTES), ATTR_NV_BS_RT);
	CHECK_EQ(vv_le16(p + AV_NAME), 'D');
	CHECK_MEM(p + AV_NAME + nsize, value, 5);

	/* GetVariable with room for 2: BUFFER_TOO_SMALL and the needed size. */
	len = put_access_variable(req, VV_MM_GET_VARIABLE, "DevVar", 0, NULL, 2);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_BUFFER_TOO_SMALL);
	CHECK_EQ(vv_le64(p + AV_DATA_SIZE), 5);

	/* An absent variable. */
	len = put_access_variable(req, VV_MM_GET_VARIABLE, "Absent", 0, NULL, 16);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_NOT_FOUND);
}

static void
test_dma_set_get_roundtrip(void)
{
	struct rig r;

	rig_open(&r, false, true);
	edk2_init(&r);
	check_roundtrip(&r);
	rig_close(&r);
}

static void
test_pio_set_get_roundtrip(void)
{
	struct rig r;

	rig_open(&r, true, false);
	edk2_init(&r);
	check_roundtrip(&r);
	rig_close(&r);
}

/* Unknown HeaderGuid: 0x11, and the request comes back unchanged at
 * offset 0 (device-abi §4 step 6, vmvars/mm.h). */
static void
test_unknown_header_guid(void)
{
	struct rig r;
	uint64_t total;

	rig_open(&r, false, true);
	edk2_init(&r);
	memset(req, 0, sizeof(req));
	total = put_mm_header(req, unknown_guid, 9);
	memcpy(req + 24, "abcdefghi", 9);
	memcpy(before, req, total);
	CHECK_EQ(dma_exchange(&r, req, total), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_MEM(req, before, total);
	CHECK_EQ(r.ram.writes, 1);
	CHECK_EQ(r.ram.last_write_len, total);

	/* A request that fills the buffer to its last byte. */
	memset(req, 0x5c, sizeof(req));
	total = put_mm_header(req, unknown_guid, VV_MM_MAX_BUFFER - 24);
	CHECK_EQ(total, VV_MM_MAX_BUFFER);
	memcpy(before, req, total);
	CHECK_EQ(dma_exchange(&r, req, total), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_MEM(req, before, total);
	CHECK_EQ(r.ram.last_write_len, VV_MM_MAX_BUFFER);
	rig_close(&r);

	rig_open(&r, true, false);
	edk2_init(&r);
	memset(req, 0x5c, sizeof(req));
	total = put_mm_header(req, unknown_guid, VV_MM_MAX_BUFFER - 24);
	memcpy(before, req, total);
	CHECK_EQ(pio_exchange(&r, req, total), VV_STS_ERR_NOT_SUPPORTED);
	CHECK_MEM(req, before, total);
	rig_close(&r);
}

/*
 * QEMU 10.0-10.2 copied a PIO reply to offset 24 with the full length:
 * 24 bytes past the buffer (device-abi §18.1).  Here the buffer is exactly
 * as large as the request; the reply must land at offset 0 (checked
 * byte for byte) and nothing may be written past it (the sanitizer builds
 * would see it).
 */
static void
test_pio_reply_at_offset_zero(void)
{
	struct rig r;
	size_t len;

	rig_open(&r, true, false);
	edk2_init(&r);
	wr32(&r, VV_REG_BUFFER_SIZE, 48);
	len = put_get_payload_size(req);
	CHECK_EQ(pio_exchange(&r, req, len), VV_STS_SUCCESS);
	check_payload_size_reply(req, 48);
	rig_close(&r);
}

static void
test_event_message(void)
{
	struct rig r;
	uint64_t total;

	rig_open(&r, false, true);
	edk2_init(&r);
	/* device-abi §5.3: MessageLength 1, one data byte 0. */
	memset(req, 0, sizeof(req));
	total = put_mm_header(req, end_of_dxe_guid, 1);
	CHECK_EQ(total, 25);
	CHECK(!vv_store_end_of_dxe(r.store));
	CHECK_EQ(dma_exchange(&r, req, total), VV_STS_SUCCESS);
	CHECK(vv_store_end_of_dxe(r.store));
	CHECK_EQ(vv_le64(req + OFF_MESSAGE_LENGTH), 1);
	rig_close(&r);
}

/* ---- resets ---- */

static void
set_two_variables(struct rig *r)
{
	size_t len;

	len = put_access_variable(req, VV_MM_SET_VARIABLE, "Kept", ATTR_NV_BS_RT, "nv", 2);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
	len = put_access_variable(req, VV_MM_SET_VARIABLE, "Gone", ATTR_BS_RT, "vol", 3);
	CHECK_EQ(exchange(r, req, len), VV_STS_SUCCESS);
	CHECK_STATUS(vv_le64(req + OFF_RETURN_STATUS), VV_EFI_SUCCESS);
	CHECK_EQ(vv_store_count(r->store), 2);
}

static vv_status
get_status(struct rig *r, const char *name)
{
	size_t len = put_access_variable(req, VV_MM_GET_VARIABLE, name, 0, NULL, 16);

	if (exchange(r, req, len) != VV_STS_SUCCESS)
		return STATUS_SENTINEL;
	return vv_le64(req + OFF_RETURN_STATUS);
}

static void
test_soft_reset_keeps_variables(void)
{
	struct rig r;

	rig_open(&r, false, true);
	edk2_init(&r);
	set_two_variables(&r);
	memset(req, 0, 64);
	put_mm_header(req, end_of_dxe_guid, 1);
	CHECK_EQ(dma_exchange(&r, req, 25), VV_STS_SUCCESS);

	CHECK_EQ(command(&r, VV_CMD_RESET), VV_STS_SUCCESS);
	CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0);
	CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0);
	CHECK_EQ(command(&r, VV_CMD_DMA_MM), VV_STS_ERR_BAD_BUFFER_SIZE);
	CHECK_EQ(vv_store_count(r.store), 2);
	CHECK(vv_store_end_of_dxe(r.store));
	edk2_init(&r);
	CHECK_STATUS(get_status(&r, "Kept"), VV_EFI_SUCCESS);
	CHECK_STATUS(get_status(&r, "Gone"), VV_EFI_SUCCESS);
	rig_close(&r);
}

static void
test_full_reset(void)
{
	struct rig r;

	for (int pio = 0; pio <= 1; pio++) {
		rig_open(&r, pio, true);
		edk2_init(&r);
		set_two_variables(&r);
		wr32(&r, VV_REG_PIO_TRANSFER, 0xffffffffu);
		CHECK_EQ(command(&r, 0x77), VV_STS_ERR_NOT_SUPPORTED);

		vv_uefi_vars_device_reset(r.dev);
		CHECK_EQ(rd16(&r, VV_REG_CMD_STS), 0);
		CHECK_EQ(rd32(&r, VV_REG_BUFFER_SIZE), 0);
		CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_LO), 0);
		CHECK_EQ(rd32(&r, VV_REG_DMA_ADDR_HI), 0);
		CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), 0);
		CHECK_EQ(rd32(&r, VV_REG_FLAGS), pio ? VV_FLAG_USE_PIO : 0);
		CHECK_EQ(rd16(&r, VV_REG_MAGIC), VV_UEFI_VARS_MAGIC);
		CHECK_EQ(vv_store_count(r.store), 1);
		CHECK(vv_store_find(r.store, (const uint16_t *)u"Kept", 4,
				    (const vv_guid *)vendor_guid) != NULL);
		CHECK(vv_store_find(r.store, (const uint16_t *)u"Gone", 4,
				    (const vv_guid *)vendor_guid) == NULL);
		/* The PIO offset is 0 again: after BUFFER_SIZE the CRC covers 0
		 * bytes. */
		edk2_init(&r);
		CHECK_EQ(rd32(&r, VV_REG_PIO_CRC32C), 0);
		CHECK_STATUS(get_status(&r, "Kept"), VV_EFI_SUCCESS);
		CHECK_STATUS(get_status(&r, "Gone"), VV_EFI_NOT_FOUND);
		rig_close(&r);
	}
}

static const struct vv_test tests[] = {
	TEST(test_crc32c),
	TEST(test_power_on_registers),
	TEST(test_edk2_init_handshake),
	TEST(test_buffer_size_clamp),
	TEST(test_command_status),
	TEST(test_unknown_offsets),
	TEST(test_byte_and_qword_access),
	TEST(test_misaligned_access),
	TEST(test_pio_transfer_bounds),
	TEST(test_crc_after_shrink),
	TEST(test_grown_buffer_reads_zero),
	TEST(test_handler_sees_zero_tail),
	TEST(test_no_or_small_buffer),
	TEST(test_message_length_checks),
	TEST(test_dma_address_refused),
	TEST(test_dma_get_payload_size),
	TEST(test_dma_set_get_roundtrip),
	TEST(test_pio_set_get_roundtrip),
	TEST(test_unknown_header_guid),
	TEST(test_pio_reply_at_offset_zero),
	TEST(test_event_message),
	TEST(test_soft_reset_keeps_variables),
	TEST(test_full_reset),
};

VV_TEST_MAIN(tests)
