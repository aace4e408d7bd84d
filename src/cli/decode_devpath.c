/*
 * src/cli/decode_devpath.c -- device paths in the edk2 / UEFI text form
 * (varstore-formats §10.5, UEFI 2.10 §10.6) and EFI_LOAD_OPTION values
 * (§10.3): decoding for `get` and `boot list`, building for `boot add`.
 *
 * Invariant: every node is read only after checking that its 4-byte header
 * and its whole Length lie inside the bytes that remain; a node whose body
 * is shorter than its type needs prints in the generic Path(...) form.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <vmvars/ucs2.h>

#include "cli/store_file.h"

struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (s == NULL) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
guid_upper(struct buf *b, const uint8_t *p)
{
	char g[VV_GUID_TEXT_LEN + 1];
	vv_guid guid;

	memcpy(guid.b, p, 16);
	vv_guid_format(&guid, g);
	for (char *c = g; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	bprintf(b, "%s", g);
}

static void
hex_bytes(struct buf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bprintf(b, "%02X", p[i]);
}

/* UCS-2 LE text of at most n bytes, up to the first NUL. */
static void
ucs2_text(struct buf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint16_t c = vv_le16(p + i);

		if (c == 0)
			break;
		if (c < 0x80)
			bprintf(b, "%c", (char)c);
		else if (c < 0x800)
			bprintf(b, "%c%c", (char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F)));
		else
			bprintf(b, "%c%c%c", (char)(0xE0 | (c >> 12)), (char)(0x80 | ((c >> 6) & 0x3F)),
				(char)(0x80 | (c & 0x3F)));
	}
}

static void
generic(struct buf *b, uint8_t type, uint8_t sub, const uint8_t *body, size_t n)
{
	bprintf(b, "Path(%u,%u,", type, sub);
	hex_bytes(b, body, n);
	bprintf(b, ")");
}

/* ACPI HID node (02/01): EISA ids compressed as 0x41D0 | (PNP << 16). */
static void
acpi_node(struct buf *b, uint32_t hid, uint32_t uid)
{
	if ((hid & 0xFFFF) == 0x41D0) {
		uint32_t pnp = hid >> 16;

		switch (pnp) {
		case 0x0A03: bprintf(b, "PciRoot(0x%X)", uid); return;
		case 0x0A08: bprintf(b, "PcieRoot(0x%X)", uid); return;
		case 0x0604: bprintf(b, "Floppy(0x%X)", uid); return;
		case 0x0301: bprintf(b, "Keyboard(0x%X)", uid); return;
		case 0x0501: bprintf(b, "Serial(0x%X)", uid); return;
		case 0x0401: bprintf(b, "ParallelPort(0x%X)", uid); return;
		default: bprintf(b, "Acpi(PNP%04X,0x%X)", pnp, uid); return;
		}
	}
	bprintf(b, "Acpi(0x%08X,0x%X)", hid, uid);
}

static const struct {
	const char *guid;
	const char *text;
} vendor_msg[] = {
	/* edk2 DevicePathToText special cases of VenMsg (§10.5) */
	{ "e0c14753-f9be-11d2-9a0c-0090273fc14d", "VenPcAnsi()" },
	{ "dfa66065-b419-11d3-9a2d-0090273fc14d", "VenVt100()" },
	{ "7baec70b-57e0-4c76-8e87-2f9e28088343", "VenVt100Plus()" },
	{ "ad15a0d6-8bec-4acf-a073-d01de77e2d88", "VenUtf8()" },
};

static void
vendor_node(struct buf *b, const char *kind, const uint8_t *body, size_t n, bool msg)
{
	if (msg && n == 16) {
		vv_guid g, want;

		memcpy(g.b, body, 16);
		for (size_t i = 0; i < sizeof(vendor_msg) / sizeof(vendor_msg[0]); i++) {
			vv_guid_parse(vendor_msg[i].guid, &want);
			if (vv_guid_equal(&g, &want)) {
				bprintf(b, "%s", vendor_msg[i].text);
				return;
			}
		}
	}
	bprintf(b, "%s(", kind);
	guid_upper(b, body);
	if (n > 16) {
		bprintf(b, ",");
		hex_bytes(b, body + 16, n - 16);
	}
	bprintf(b, ")");
}

static void
usb_class_node(struct buf *b, const uint8_t *p)
{
	uint16_t vid = vv_le16(p), pid = vv_le16(p + 2);
	uint8_t cls = p[4], sub = p[5], proto = p[6];

	if (cls == 3)
		bprintf(b, "UsbHID(0x%X,0x%X,0x%X,0x%X)", vid, pid, sub, proto);
	else if (cls == 8)
		bprintf(b, "UsbMassStorage(0x%X,0x%X,0x%X,0x%X)", vid, pid, sub, proto);
	else
		bprintf(b, "UsbClass(0x%X,0x%X,0x%X,0x%X,0x%X)", vid, pid, cls, sub, proto);
}

static void
hd_node(struct buf *b, const uint8_t *p)
{
	uint32_t part = vv_le32(p);
	uint64_t start = vv_le64(p + 4), size = vv_le64(p + 12);
	uint8_t mbr_type = p[36], sig_type = p[37];

	bprintf(b, "HD(%u,", part);
	if (sig_type == 1)
		bprintf(b, "MBR,0x%08X,", vv_le32(p + 20));
	else if (sig_type == 2) {
		bprintf(b, "GPT,");
		guid_upper(b, p + 20);
		bprintf(b, ",");
	} else
		bprintf(b, "%u,0,", mbr_type);
	bprintf(b, "0x%llX,0x%llX)", (unsigned long long)start, (unsigned long long)size);
}

/* One node; n is the body size (Length - 4). */
static void
node_text(struct buf *b, uint8_t type, uint8_t sub, const uint8_t *p, size_t n)
{
	switch (type << 8 | sub) {
	case 0x0101: if (n >= 2) { bprintf(b, "Pci(0x%X,0x%X)", p[1], p[0]); return; } break;
	case 0x0104: if (n >= 16) { vendor_node(b, "VenHw", p, n, false); return; } break;
	case 0x0105: if (n >= 4) { bprintf(b, "Ctrl(0x%X)", vv_le32(p)); return; } break;
	case 0x0201: if (n >= 8) { acpi_node(b, vv_le32(p), vv_le32(p + 4)); return; } break;
	case 0x0203:
		if (n >= 4) {
			bprintf(b, "AcpiAdr(0x%X", vv_le32(p));
			for (size_t i = 4; i + 4 <= n; i += 4)
				bprintf(b, ",0x%X", vv_le32(p + i));
			bprintf(b, ")");
			return;
		}
		break;
	case 0x0301:
		if (n >= 4) {
			bprintf(b, "Ata(%s,%s,0x%X)", p[0] ? "Secondary" : "Primary",
				p[1] ? "Slave" : "Master", vv_le16(p + 2));
			return;
		}
		break;
	case 0x0302: if (n >= 4) { bprintf(b, "Scsi(0x%X,0x%X)", vv_le16(p), vv_le16(p + 2)); return; } break;
	case 0x0305: if (n >= 2) { bprintf(b, "USB(0x%X,0x%X)", p[0], p[1]); return; } break;
	case 0x030A: if (n >= 16) { vendor_node(b, "VenMsg", p, n, true); return; } break;
	case 0x030B:
		if (n >= 33) {
			/* 6 address bytes shown for Ethernet-like types (edk2 shows
			 * HwAddressSize bytes; 6 is what virtual NICs use). */
			bprintf(b, "MAC(");
			hex_bytes(b, p, (p[32] == 0 || p[32] == 1) ? 6 : 32);
			bprintf(b, ",0x%X)", p[32]);
			return;
		}
		break;
	case 0x030C:
		if (n >= 15) {
			bprintf(b, "IPv4(%u.%u.%u.%u,%s,%s,%u.%u.%u.%u)", p[4], p[5], p[6], p[7],
				vv_le16(p + 12) == 6 ? "TCP" : vv_le16(p + 12) == 17 ? "UDP" : "0x0",
				p[14] ? "Static" : "DHCP", p[0], p[1], p[2], p[3]);
			return;
		}
		break;
	case 0x030E:
		if (n >= 15) {
			static const char parity[] = "DNEOMS";
			static const char *const stop[] = { "D", "1", "1.5", "2" };
			uint64_t baud = vv_le64(p + 4);

			bprintf(b, "Uart(%llu,%u,%c,%s)", (unsigned long long)baud, p[12],
				p[13] < 6 ? parity[p[13]] : 'x', p[14] < 4 ? stop[p[14]] : "x");
			return;
		}
		break;
	case 0x030F: if (n >= 7) { usb_class_node(b, p); return; } break;
	case 0x0311: if (n >= 1) { bprintf(b, "Unit(0x%X)", p[0]); return; } break;
	case 0x0312:
		if (n >= 6) {
			bprintf(b, "Sata(0x%X,0x%X,0x%X)", vv_le16(p), vv_le16(p + 2), vv_le16(p + 4));
			return;
		}
		break;
	case 0x0314: if (n >= 2) { bprintf(b, "Vlan(%u)", vv_le16(p)); return; } break;
	case 0x0317:
		if (n >= 12) {
			bprintf(b, "NVMe(0x%X,", vv_le32(p));
			for (int i = 0; i < 8; i++)
				bprintf(b, "%s%02X", i ? "-" : "", p[4 + i]);
			bprintf(b, ")");
			return;
		}
		break;
	case 0x0318: bprintf(b, "Uri(%.*s)", (int)n, (const char *)p); return;
	case 0x0401: if (n >= 38) { hd_node(b, p); return; } break;
	case 0x0402:
		if (n >= 20) {
			bprintf(b, "CDROM(0x%X,0x%llX,0x%llX)", vv_le32(p),
				(unsigned long long)vv_le64(p + 4), (unsigned long long)vv_le64(p + 12));
			return;
		}
		break;
	case 0x0403: if (n >= 16) { vendor_node(b, "VenMedia", p, n, false); return; } break;
	case 0x0404: ucs2_text(b, p, n); return;
	case 0x0405: if (n >= 16) { bprintf(b, "Media("); guid_upper(b, p); bprintf(b, ")"); return; } break;
	case 0x0406: if (n >= 16) { bprintf(b, "FvFile("); guid_upper(b, p); bprintf(b, ")"); return; } break;
	case 0x0407: if (n >= 16) { bprintf(b, "Fv("); guid_upper(b, p); bprintf(b, ")"); return; } break;
	case 0x0408:
		if (n >= 20) {
			bprintf(b, "Offset(0x%llX,0x%llX)", (unsigned long long)vv_le64(p + 4),
				(unsigned long long)vv_le64(p + 12));
			return;
		}
		break;
	default:
		break;
	}
	generic(b, type, sub, p, n);
}

char *
vv_devpath_text(const uint8_t *dp, size_t size)
{
	struct buf b = { NULL, 0, 0, false };
	size_t off = 0;
	bool first = true, ended = false;

	bprintf(&b, "%s", "");
	while (off < size) {
		size_t remain = size - off, len;
		uint8_t type, sub;

		if (remain < 4)
			break;
		type = dp[off];
		sub = dp[off + 1];
		len = vv_le16(dp + off + 2);
		if (len < 4 || len > remain)
			break;
		if (type == 0x7F) {
			off += len;
			if (sub == 0xFF) {       /* end of the whole path */
				ended = true;
				break;
			}
			bprintf(&b, ",");        /* end of one instance */
			first = true;
			continue;
		}
		if (!first)
			bprintf(&b, "/");
		node_text(&b, type, sub, dp + off + 4, len - 4);
		first = false;
		off += len;
	}
	if (!ended)
		bprintf(&b, "%s<malformed>", b.len ? "/" : "");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int
vv_load_option_parse(const uint8_t *data, size_t size, struct vv_load_option *lo)
{
	size_t desc_end, chars;
	uint16_t *name;

	memset(lo, 0, sizeof(*lo));
	/* §10.3: Attributes u32, FilePathListLength u16, NUL-terminated
	 * Description inside the data, then the path list inside the data. */
	if (size < 6)
		return -1;
	lo->attributes = vv_le32(data);
	lo->path_size = vv_le16(data + 4);
	for (desc_end = 6; desc_end + 1 < size; desc_end += 2)
		if (vv_le16(data + desc_end) == 0)
			break;
	if (desc_end + 1 >= size)
		return -1;
	chars = (desc_end - 6) / 2;
	if ((name = calloc(chars + 1, sizeof(uint16_t))) == NULL)
		return -1;
	for (size_t i = 0; i < chars; i++)
		name[i] = vv_le16(data + 6 + 2 * i);
	lo->description = vv_ucs2_to_utf8(name, chars);
	free(name);
	if (lo->description == NULL)
		lo->description = strdup("?");
	desc_end += 2;
	if (lo->path_size > size - desc_end) {
		vv_load_option_free(lo);
		return -1;
	}
	lo->path = data + desc_end;
	lo->optional = data + desc_end + lo->path_size;
	lo->optional_size = size - desc_end - lo->path_size;
	return 0;
}

void
vv_load_option_free(struct vv_load_option *lo)
{
	free(lo->description);
	lo->description = NULL;
}

uint8_t *
vv_load_option_build(uint32_t attributes, const char *description, const char *target,
		     const uint8_t *optional, size_t optional_size, size_t *out_size)
{
	uint16_t *desc, *path = NULL;
	size_t desc_len, path_len = 0, node_len, dp_len, total, off;
	bool uri = strstr(target, "://") != NULL;
	uint8_t *out;

	if ((desc = vv_ucs2_from_utf8(description, strlen(description), &desc_len)) == NULL)
		return NULL;
	if (uri) {
		node_len = 4 + strlen(target);          /* §10.5 03/18: not terminated */
	} else {
		char *conv = strdup(target);

		if (conv == NULL) {
			free(desc);
			return NULL;
		}
		/* virt-fw-vars --append-boot-filepath: '/' becomes '\' (§7.1) */
		for (char *c = conv; *c; c++)
			if (*c == '/')
				*c = '\\';
		path = vv_ucs2_from_utf8(conv, strlen(conv), &path_len);
		free(conv);
		if (path == NULL || path_len == 0) {
			free(desc);
			free(path);
			return NULL;
		}
		node_len = 4 + (path_len + 1) * 2;      /* §10.5 04/04: NUL-terminated */
	}
	dp_len = node_len + 4;
	if (node_len > 0xFFFF || dp_len > 0xFFFF) {
		free(desc);
		free(path);
		return NULL;
	}
	total = 6 + (desc_len + 1) * 2 + dp_len + optional_size;
	if ((out = calloc(1, total)) == NULL) {
		free(desc);
		free(path);
		return NULL;
	}
	vv_put_le32(out, attributes);
	vv_put_le16(out + 4, (uint16_t)dp_len);
	off = 6;
	for (size_t i = 0; i < desc_len; i++, off += 2)
		vv_put_le16(out + off, desc[i]);
	off += 2;
	out[off] = uri ? 0x03 : 0x04;
	out[off + 1] = uri ? 0x18 : 0x04;
	vv_put_le16(out + off + 2, (uint16_t)node_len);
	if (uri) {
		memcpy(out + off + 4, target, strlen(target));
	} else {
		for (size_t i = 0; i < path_len; i++)
			vv_put_le16(out + off + 4 + 2 * i, path[i]);
	}
	off += node_len;
	out[off] = 0x7F;
	out[off + 1] = 0xFF;
	vv_put_le16(out + off + 2, 4);
	off += 4;
	if (optional_size)
		memcpy(out + off, optional, optional_size);
	free(desc);
	free(path);
	*out_size = total;
	return out;
}
