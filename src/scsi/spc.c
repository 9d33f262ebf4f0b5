/*
 * SPC-4 primary commands, emulated: TEST UNIT READY, INQUIRY (standard data
 * and the VPD pages a block device needs), REQUEST SENSE, REPORT LUNS,
 * REPORT SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS, MODE
 * SENSE / SELECT (6 and 10) and the SBC-3 unit commands START STOP UNIT and
 * PREVENT ALLOW MEDIUM REMOVAL.
 *
 * Every handler here finishes inline (SCSI_EXEC_DONE). This file does not
 * touch the backstore, task sets or unit attention priorities, and does not
 * implement reservations (RESERVE/RELEASE and PERSISTENT RESERVE IN/OUT
 * come with the PR engine).
 */
#include <stdio.h>
#include <string.h>

#include "scsi/scsi_internal.h"

#define SPC_INQ_STD_LEN 96u       /* standard INQUIRY data we return */
#define SPC_VPD_BUF 2048u

/* SPC-4 7.8.2 VPD page codes */
#define SPC_VPD_SUPPORTED 0x00
#define SPC_VPD_SERIAL 0x80
#define SPC_VPD_DEVID 0x83
#define SPC_VPD_EXTENDED 0x86
#define SPC_VPD_BLOCK_LIMITS 0xB0
#define SPC_VPD_BLOCK_CHAR 0xB1
#define SPC_VPD_LBP 0xB2

static const uint8_t spc_vpd_pages[] = {
	SPC_VPD_SUPPORTED, SPC_VPD_SERIAL, SPC_VPD_DEVID, SPC_VPD_EXTENDED,
	SPC_VPD_BLOCK_LIMITS, SPC_VPD_BLOCK_CHAR, SPC_VPD_LBP,
};

/* Version descriptors, SPC-4 table 144 (byte 58 onwards). */
static const uint16_t spc_version_descriptors[] = {
	0x00A0, /* SAM-5 (no version claimed) */
	0x0960, /* iSCSI (no version claimed) */
	0x0460, /* SPC-4 (no version claimed) */
	0x04C0, /* SBC-3 (no version claimed) */
};

/* Mode pages (SPC-4 7.5, SBC-3 6.4). */
#define SPC_MP_RW_RECOVERY 0x01
#define SPC_MP_CACHING 0x08
#define SPC_MP_CONTROL 0x0A
#define SPC_MP_IEC 0x1C
#define SPC_MP_ALL 0x3F

enum spc_mode_pc {
	SPC_PC_CURRENT = 0,
	SPC_PC_CHANGEABLE = 1,
	SPC_PC_DEFAULT = 2,
	SPC_PC_SAVED = 3,
};

static const uint8_t spc_mode_pages[] = {
	SPC_MP_RW_RECOVERY, SPC_MP_CACHING, SPC_MP_CONTROL, SPC_MP_IEC,
};

/* Space-padded copy of an ASCII field. */
static void spc_put_ascii(uint8_t *dst, const char *src, size_t width)
{
	size_t n = strnlen(src, width);

	memset(dst, ' ', width);
	memcpy(dst, src, n);
}

/* The peripheral byte: qualifier 000b type 00h, or 011b/1Fh without LU. */
static uint8_t spc_peripheral(const struct scsi_task *t)
{
	return t->lu ? 0x00 : 0x7F;
}

/* --- TEST UNIT READY (SPC-4 6.47) --- */

enum scsi_exec spc_test_unit_ready(struct scsi_task *t)
{
	return SCSI_EXEC_DONE; /* the gates did the work */
}

/* --- INQUIRY (SPC-4 6.6) --- */

static uint32_t spc_inquiry_standard(struct scsi_task *t, uint8_t *d)
{
	const struct scsi_lun_config *cfg = t->lu ? &t->lu->cfg : NULL;

	memset(d, 0, SPC_INQ_STD_LEN);
	d[0] = spc_peripheral(t);
	d[2] = 0x06;          /* VERSION: SPC-4 */
	d[3] = 0x10 | 0x02;   /* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = SPC_INQ_STD_LEN - 5;
	d[5] = 0x10 | 0x08;   /* TPGS 01b (implicit ALUA), 3PC */
	d[6] = 0x10;          /* MULTIP */
	d[7] = 0x02;          /* CMDQUE */
	spc_put_ascii(d + 8, cfg ? cfg->vendor : SCSI_DEFAULT_VENDOR, 8);
	spc_put_ascii(d + 16, cfg ? cfg->product : SCSI_DEFAULT_PRODUCT, 16);
	spc_put_ascii(d + 32, cfg ? cfg->revision : SCSI_DEFAULT_REVISION, 4);
	for (unsigned i = 0; i < ARRAY_SIZE(spc_version_descriptors); i++)
		scsi_put_be16(d + 58 + 2 * i, spc_version_descriptors[i]);
	return SPC_INQ_STD_LEN;
}

/* SPC-4 7.8.13 Supported VPD pages */
static uint32_t spc_vpd_supported(struct scsi_task *t, uint8_t *d)
{
	d[1] = SPC_VPD_SUPPORTED;
	if (!t->lu)
		return 4; /* no LU: no pages */
	memcpy(d + 4, spc_vpd_pages, sizeof(spc_vpd_pages));
	scsi_put_be16(d + 2, sizeof(spc_vpd_pages));
	return 4 + sizeof(spc_vpd_pages);
}

/* SPC-4 7.8.15 Unit Serial Number */
static uint32_t spc_vpd_serial(struct scsi_task *t, uint8_t *d)
{
	size_t n = strnlen(t->lu->cfg.serial, sizeof(t->lu->cfg.serial) - 1);

	d[1] = SPC_VPD_SERIAL;
	memcpy(d + 4, t->lu->cfg.serial, n);
	scsi_put_be16(d + 2, (uint16_t)n);
	return 4 + (uint32_t)n;
}

/* One designation descriptor (SPC-4 7.8.6.1, table 459). */
static uint32_t spc_put_designator(uint8_t *p, uint8_t proto_codeset,
				   uint8_t piv_assoc_type, const void *id,
				   uint32_t len)
{
	p[0] = proto_codeset;
	p[1] = piv_assoc_type;
	p[2] = 0;
	p[3] = (uint8_t)len;
	memcpy(p + 4, id, len);
	return 4 + len;
}

/* A SCSI name string designator (SPC-4 7.8.6.10): UTF-8, NUL terminated,
 * padded to a multiple of 4 bytes. */
static uint32_t spc_put_name_designator(uint8_t *p, uint8_t assoc,
					const char *name)
{
	uint32_t len = (uint32_t)strlen(name) + 1;

	len = (len + 3) & ~3u;
	if (len > 252)
		len = 252;
	memset(p + 4, 0, len);
	memcpy(p + 4, name, strnlen(name, len - 1));
	/* protocol 5 (iSCSI) + code set 3 (UTF-8); PIV | assoc | type 8 */
	p[0] = 0x53;
	p[1] = (uint8_t)(0x80 | assoc << 4 | 0x08);
	p[2] = 0;
	p[3] = (uint8_t)len;
	return 4 + len;
}

/* SPC-4 7.8.6 Device Identification */
static uint32_t spc_vpd_devid(struct scsi_task *t, uint8_t *d)
{
	struct scsi_tport *tp = t->nexus->tport;
	uint8_t v[4] = { 0 };
	uint32_t n = 4;

	d[1] = SPC_VPD_DEVID;
	/* NAA IEEE Registered Extended (type 3, NAA 6), association LU. */
	n += spc_put_designator(d + n, 0x01, 0x03, t->lu->cfg.naa, 16);
	/* Relative target port (type 4), association target port. */
	scsi_put_be16(v + 2, tp->rtpi);
	n += spc_put_designator(d + n, 0x51, 0x94, v, 4);
	/* Target port group (type 5), association target port. */
	scsi_put_be16(v + 2, tp->port_group);
	n += spc_put_designator(d + n, 0x51, 0x95, v, 4);
	/* SCSI name strings: the target port and the target device. */
	n += spc_put_name_designator(d + n, 1, tp->name);
	n += spc_put_name_designator(d + n, 2, t->lu->target->name);
	scsi_put_be16(d + 2, (uint16_t)(n - 4));
	return n;
}

/* SPC-4 7.8.7 Extended INQUIRY Data */
static uint32_t spc_vpd_extended(struct scsi_task *t, uint8_t *d)
{
	d[1] = SPC_VPD_EXTENDED;
	scsi_put_be16(d + 2, 0x3C);
	d[5] = 0x04 | 0x02 | 0x01; /* HEADSUP, ORDSUP, SIMPSUP */
	d[7] = 0x01;               /* LUICLR: UAs are per I_T nexus */
	return 64;
}

/* SBC-3 6.5.3 Block Limits */
static uint32_t spc_vpd_block_limits(struct scsi_task *t, uint8_t *d)
{
	const struct scsi_lun *lu = t->lu;
	uint32_t max_xfer = SCSI_MAX_XFER_BLOCKS_BYTES >> lu->block_shift;

	d[1] = SPC_VPD_BLOCK_LIMITS;
	scsi_put_be16(d + 2, 0x3C);
	d[4] = SCSI_WSNZ; /* see scsi_internal.h; sbc.c follows it */
	d[5] = SCSI_MAX_CAW_BLOCKS;          /* MAX COMPARE AND WRITE LENGTH */
	scsi_put_be16(d + 6, 1);             /* OPTIMAL XFER LEN GRANULARITY */
	scsi_put_be32(d + 8, max_xfer);      /* MAXIMUM TRANSFER LENGTH */
	scsi_put_be32(d + 12, max_xfer);     /* OPTIMAL TRANSFER LENGTH */
	scsi_put_be32(d + 16, max_xfer);     /* MAXIMUM PREFETCH LENGTH */
	if (lu->cfg.thin) {
		/* Finite limits: libiscsi's Unmap tests size requests from
		 * them and FFFFFFFFh would make them send garbage. */
		scsi_put_be32(d + 20, SCSI_MAX_UNMAP_LBA_COUNT);
		scsi_put_be32(d + 24, SCSI_MAX_UNMAP_DESCRIPTORS);
		scsi_put_be32(d + 28, 1);    /* OPTIMAL UNMAP GRANULARITY */
	}
	scsi_put_be64(d + 36, SCSI_MAX_WRITE_SAME_BLOCKS);
	return 64;
}

/* SBC-3 6.5.2 Block Device Characteristics */
static uint32_t spc_vpd_block_char(struct scsi_task *t, uint8_t *d)
{
	d[1] = SPC_VPD_BLOCK_CHAR;
	scsi_put_be16(d + 2, 0x3C);
	scsi_put_be16(d + 4, 1); /* MEDIUM ROTATION RATE: non-rotating */
	return 64;
}

/* SBC-3 6.5.4 Logical Block Provisioning */
static uint32_t spc_vpd_lbp(struct scsi_task *t, uint8_t *d)
{
	d[1] = SPC_VPD_LBP;
	scsi_put_be16(d + 2, 4);
	if (t->lu->cfg.thin) {
		/* LBPU, LBPWS, LBPWS10, LBPRZ */
		d[5] = 0x80 | 0x40 | 0x20 | 0x04;
		d[6] = 0x02; /* PROVISIONING TYPE: thin */
	}
	return 8;
}

enum scsi_exec spc_inquiry(struct scsi_task *t)
{
	uint8_t d[SPC_VPD_BUF];
	uint32_t alloc = scsi_get_be16(t->cdb + 3), n;
	bool evpd = t->cdb[1] & 0x01;
	uint8_t page = t->cdb[2];

	if (t->cdb[1] & 0x02) /* CMDDT: obsolete */
		return scsi_task_error_cdb(t, 1, 1);
	if (!evpd) {
		if (page) /* SPC-4 6.6.1: PAGE CODE must be 0 */
			return scsi_task_error_cdb(t, 2, 7);
		n = spc_inquiry_standard(t, d);
		scsi_task_put_data(t, d, n, alloc);
		return SCSI_EXEC_DONE;
	}

	memset(d, 0, sizeof(d));
	if (!t->lu && page != SPC_VPD_SUPPORTED)
		return scsi_task_error_cdb(t, 2, 7);
	switch (page) {
	case SPC_VPD_SUPPORTED:
		n = spc_vpd_supported(t, d);
		break;
	case SPC_VPD_SERIAL:
		n = spc_vpd_serial(t, d);
		break;
	case SPC_VPD_DEVID:
		n = spc_vpd_devid(t, d);
		break;
	case SPC_VPD_EXTENDED:
		n = spc_vpd_extended(t, d);
		break;
	case SPC_VPD_BLOCK_LIMITS:
		n = spc_vpd_block_limits(t, d);
		break;
	case SPC_VPD_BLOCK_CHAR:
		n = spc_vpd_block_char(t, d);
		break;
	case SPC_VPD_LBP:
		n = spc_vpd_lbp(t, d);
		break;
	default:
		return scsi_task_error_cdb(t, 2, 7);
	}
	d[0] = spc_peripheral(t);
	scsi_task_put_data(t, d, n, alloc);
	return SCSI_EXEC_DONE;
}

/* --- REQUEST SENSE (SPC-4 6.39) --- */

enum scsi_exec spc_request_sense(struct scsi_task *t)
{
	uint8_t d[SCSI_SENSE_MAX];
	bool desc = t->cdb[1] & 0x01;
	uint32_t n;
	int ua;

	if (!t->itl) {
		/* SPC-4 6.39: an unknown LUN reports LOGICAL UNIT NOT
		 * SUPPORTED as parameter data, with GOOD status. */
		n = scsi_sense_request(d, sizeof(d), SCSI_SR_LUN_NOT_SUPPORTED,
				       -1, desc);
	} else {
		/* A pending UA is reported (and cleared) here. */
		ua = scsi_itl_ua_next(t->itl, true);
		n = scsi_sense_request(d, sizeof(d),
				       ua >= 0 ? SCSI_SR_UNIT_ATTENTION
					       : SCSI_SR_OK, ua, desc);
	}
	scsi_task_put_data(t, d, n, t->cdb[4]);
	return SCSI_EXEC_DONE;
}

/* --- REPORT LUNS (SPC-4 6.33) --- */

enum scsi_exec spc_report_luns(struct scsi_task *t)
{
	struct scsi_target *target = t->nexus->target;
	uint8_t d[8 + 8 * SCSI_LUN_MAX];
	uint32_t alloc = scsi_get_be32(t->cdb + 6), n = 8;
	uint8_t select = t->cdb[2];

	if (select > 2)
		return scsi_task_error_cdb(t, 2, 7);
	if (alloc < 16) /* SPC-4 6.33: minimum allocation length */
		return scsi_task_error_cdb(t, 6, -1);

	memset(d, 0, sizeof(d));
	if (select != 1) { /* 01h: well known LUs only (we have none) */
		for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
			if (!scsi_target_lun(target, i))
				continue;
			/* SAM-5 4.7.7.2 peripheral device addressing */
			d[n + 1] = (uint8_t)i;
			n += 8;
		}
	}
	scsi_put_be32(d, n - 8);

	/* SPC-4 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for
	 * every LU of this I_T nexus. */
	for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_itl *itl = atomic_load(&t->nexus->itls[i]);

		if (itl)
			atomic_fetch_and(&itl->ua_pending,
					 ~(1u << SCSI_UA_REPORTED_LUNS_CHANGED));
	}
	scsi_task_put_data(t, d, n, alloc);
	return SCSI_EXEC_DONE;
}

/* --- REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) --- */

/* Command timeouts descriptor, SPC-4 6.35.4, table 254. */
static uint32_t spc_rsoc_put_timeouts(uint8_t *p, const struct scsi_opcode *op)
{
	memset(p, 0, 12);
	scsi_put_be16(p, 0x0A);
	scsi_put_be32(p + 4, op->timeout_s);     /* nominal */
	scsi_put_be32(p + 8, op->timeout_s * 2); /* recommended */
	return 12;
}

static enum scsi_exec spc_rsoc_one(struct scsi_task *t, bool rctd,
				   const struct scsi_opcode *op, uint32_t alloc)
{
	uint8_t d[4 + SCSI_CDB_MAX + 12];
	uint32_t n = 4;

	memset(d, 0, sizeof(d));
	if (!op) {
		d[1] = 0x01; /* SUPPORT 001b: not supported */
	} else {
		d[1] = 0x03; /* SUPPORT 011b: supported as the standard says */
		if (rctd)
			d[1] |= 0x80; /* CTDP */
		scsi_put_be16(d + 2, op->cdb_len);
		memcpy(d + 4, op->usage, op->cdb_len);
		n += op->cdb_len;
		if (rctd)
			n += spc_rsoc_put_timeouts(d + n, op);
	}
	scsi_task_put_data(t, d, n, alloc);
	return SCSI_EXEC_DONE;
}

enum scsi_exec spc_report_supported_opcodes(struct scsi_task *t)
{
	bool rctd = t->cdb[2] & 0x80;
	uint8_t opts = t->cdb[2] & 0x07;
	uint8_t req_op = t->cdb[3];
	uint16_t req_sa = scsi_get_be16(t->cdb + 4);
	uint32_t alloc = scsi_get_be32(t->cdb + 6);
	const struct scsi_opcode *rows, *op = NULL;
	unsigned count;

	rows = scsi_opcode_rows(&count);
	switch (opts) {
	case 0: { /* every command, SPC-4 6.35.2 */
		uint8_t d[4 + 64 * 20];
		uint32_t n = 4;

		memset(d, 0, sizeof(d));
		for (unsigned i = 0; i < count && n + 20 <= sizeof(d); i++) {
			const struct scsi_opcode *r = &rows[i];

			d[n] = r->opcode;
			if (r->flags & SCSI_OPF_SA) {
				scsi_put_be16(d + n + 2, r->sa);
				d[n + 5] |= 0x01; /* SERVACTV */
			}
			if (rctd)
				d[n + 5] |= 0x02; /* CTDP */
			scsi_put_be16(d + n + 6, r->cdb_len);
			n += 8;
			if (rctd)
				n += spc_rsoc_put_timeouts(d + n, r);
		}
		scsi_put_be32(d, n - 4);
		scsi_task_put_data(t, d, n, alloc);
		return SCSI_EXEC_DONE;
	}
	case 1: /* opcode without service action */
		if (scsi_opcode_has_sa(req_op))
			return scsi_task_error_cdb(t, 2, 2);
		break;
	case 2: /* opcode + service action */
		if (!scsi_opcode_has_sa(req_op))
			return scsi_task_error_cdb(t, 2, 2);
		break;
	case 3: /* either, SPC-4 r37 */
		break;
	default:
		return scsi_task_error_cdb(t, 2, 2);
	}
	for (unsigned i = 0; i < count; i++) {
		if (rows[i].opcode != req_op)
			continue;
		if ((rows[i].flags & SCSI_OPF_SA) && rows[i].sa != req_sa)
			continue;
		if (!(rows[i].flags & SCSI_OPF_SA) && opts == 3 && req_sa)
			continue;
		op = &rows[i];
		break;
	}
	return spc_rsoc_one(t, rctd, op, alloc);
}

/* --- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.36) --- */

enum scsi_exec spc_report_supported_tmf(struct scsi_task *t)
{
	bool repd = t->cdb[2] & 0x80;
	uint32_t alloc = scsi_get_be32(t->cdb + 6);
	uint8_t d[16];

	if (alloc < 4)
		return scsi_task_error_cdb(t, 6, -1);
	memset(d, 0, sizeof(d));
	/* ATS, ATSS, CTSS, LURS, QTS, TRS (no CLEAR ACA, no WAKES) */
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x04 | 0x02;
	if (repd)
		d[3] = 0x0C; /* ADDITIONAL DATA LENGTH */
	scsi_task_put_data(t, d, repd ? 16 : 4, alloc);
	return SCSI_EXEC_DONE;
}

/* --- MODE SENSE / MODE SELECT (SPC-4 6.11-6.14, 7.5) --- */

/* Builds one mode page for page control pc; returns its length or 0 for
 * an unknown page. */
static uint32_t spc_mode_page(struct scsi_lun *lu, uint8_t page,
			      enum spc_mode_pc pc, uint8_t *p)
{
	bool cur = pc == SPC_PC_CURRENT, chg = pc == SPC_PC_CHANGEABLE;

	switch (page) {
	case SPC_MP_RW_RECOVERY: /* SBC-3 6.4.7 */
		memset(p, 0, 12);
		p[0] = SPC_MP_RW_RECOVERY;
		p[1] = 0x0A;
		return 12;
	case SPC_MP_CACHING: /* SBC-3 6.4.5 */
		memset(p, 0, 20);
		p[0] = SPC_MP_CACHING;
		p[1] = 0x12;
		if (chg)
			p[2] = 0x04; /* WCE */
		else if (cur ? atomic_load(&lu->wce) : lu->cfg.write_cache)
			p[2] = 0x04;
		return 20;
	case SPC_MP_CONTROL: /* SPC-4 7.5.8 */
		memset(p, 0, 12);
		p[0] = SPC_MP_CONTROL;
		p[1] = 0x0A;
		if (chg) {
			p[2] = 0x04; /* D_SENSE */
			p[4] = 0x08; /* SWP */
			p[5] = 0x40; /* TAS */
			return 12;
		}
		p[2] = 0x20; /* TST 001b: task set per I_T nexus (lun.c) */
		if (cur && atomic_load(&lu->d_sense))
			p[2] |= 0x04;
		p[3] = 0x10; /* QUEUE ALGORITHM MODIFIER 1: unrestricted */
		if (cur)
			p[3] |= (uint8_t)((atomic_load(&lu->qerr) & 3) << 1);
		if (cur && atomic_load(&lu->swp))
			p[4] = 0x08;
		if (cur ? atomic_load(&lu->tas) : true)
			p[5] = 0x40;
		scsi_put_be16(p + 8, 0xFFFF); /* BUSY TIMEOUT PERIOD: unlimited */
		return 12;
	case SPC_MP_IEC: /* SPC-4 7.5.10 */
		memset(p, 0, 12);
		p[0] = SPC_MP_IEC;
		p[1] = 0x0A;
		if (!chg)
			p[2] = 0x08; /* DEXCPT: no informational exceptions */
		return 12;
	default:
		return 0;
	}
}

enum scsi_exec spc_mode_sense(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	bool ten = t->cdb[0] == 0x5A;
	bool dbd = t->cdb[1] & 0x08, llbaa = ten && (t->cdb[1] & 0x10);
	enum spc_mode_pc pc = (enum spc_mode_pc)(t->cdb[2] >> 6);
	uint8_t page = t->cdb[2] & 0x3F, subpage = t->cdb[3];
	uint32_t alloc = ten ? scsi_get_be16(t->cdb + 7) : t->cdb[4];
	uint32_t hdr = ten ? 8 : 4, bdl = dbd ? 0 : (llbaa ? 16 : 8), n, len;
	uint8_t d[512];

	if (pc == SPC_PC_SAVED)
		return scsi_task_error(t, SCSI_SR_SAVING_PARAMS_UNSUPPORTED);
	/* No subpages: 00h, or FFh with "all pages". */
	if (subpage && !(subpage == 0xFF && page == SPC_MP_ALL))
		return scsi_task_error_cdb(t, 3, 7);

	memset(d, 0, sizeof(d));
	n = hdr;
	if (bdl) {
		uint8_t *b = d + n;

		if (pc != SPC_PC_CHANGEABLE) {
			/* SBC-3 6.4.2: short or long LBA block descriptor */
			if (llbaa) {
				scsi_put_be64(b, lu->cfg.nblocks);
				scsi_put_be32(b + 12, lu->cfg.block_size);
			} else {
				scsi_put_be32(b, lu->cfg.nblocks > 0xFFFFFFFFu
							 ? 0xFFFFFFFFu
							 : (uint32_t)lu->cfg.nblocks);
				scsi_put_be32(b + 4, lu->cfg.block_size);
				b[4] = 0; /* DENSITY/reserved byte */
			}
		}
		n += bdl;
	}
	if (page == SPC_MP_ALL) {
		for (unsigned i = 0; i < ARRAY_SIZE(spc_mode_pages); i++)
			n += spc_mode_page(lu, spc_mode_pages[i], pc, d + n);
	} else {
		len = spc_mode_page(lu, page, pc, d + n);
		if (!len)
			return scsi_task_error_cdb(t, 2, 5);
		n += len;
	}

	/* Headers: SPC-4 7.5.5, tables 452 and 453. */
	if (ten) {
		scsi_put_be16(d, (uint16_t)(n - 2));
		/* WP, DPOFUA */
		d[3] = (scsi_lun_write_protected(lu) ? 0x80 : 0) | 0x10;
		d[4] = llbaa && bdl ? 0x01 : 0;               /* LONGLBA */
		scsi_put_be16(d + 6, (uint16_t)bdl);
	} else {
		d[0] = (uint8_t)(n - 1);
		d[2] = (scsi_lun_write_protected(lu) ? 0x80 : 0) | 0x10;
		d[3] = (uint8_t)bdl;
	}
	if (pc == SPC_PC_CHANGEABLE)
		d[ten ? 3 : 2] = 0;
	scsi_task_put_data(t, d, n, alloc);
	return SCSI_EXEC_DONE;
}

/* Validates one page of MODE SELECT parameter data at offset off against
 * the changeable mask; 0 or the task's error already set (-1). */
static int spc_mode_select_check(struct scsi_task *t, const uint8_t *p,
				 uint32_t off, uint32_t avail)
{
	uint8_t cur[64], chg[64];
	uint32_t len;

	if (p[0] & 0x40) { /* SPF: no subpages */
		scsi_task_error_param(t, (uint16_t)off, 6);
		return -1;
	}
	len = spc_mode_page(t->lu, p[0] & 0x3F, SPC_PC_CURRENT, cur);
	if (!len) {
		scsi_task_error_param(t, (uint16_t)off, 5);
		return -1;
	}
	if (avail < 2 || p[1] != len - 2 || avail < len) {
		scsi_task_error_param(t, (uint16_t)(off + 1), -1);
		return -1;
	}
	spc_mode_page(t->lu, p[0] & 0x3F, SPC_PC_CHANGEABLE, chg);
	for (uint32_t i = 2; i < len; i++) {
		uint8_t bad = (uint8_t)((p[i] ^ cur[i]) & ~chg[i]);

		if (bad) {
			scsi_task_error_param(t, (uint16_t)(off + i),
					      31 - __builtin_clz(bad));
			return -1;
		}
	}
	return 0;
}

enum scsi_exec spc_mode_select(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	bool ten = t->cdb[0] == 0x55;
	uint32_t plen = ten ? scsi_get_be16(t->cdb + 7) : t->cdb[4];
	uint32_t hdr = ten ? 8 : 4, bdl, off;
	const uint8_t *d = t->buf;
	bool changed = false;

	if (!(t->cdb[1] & 0x10)) /* PF: only the SPC page format */
		return scsi_task_error_cdb(t, 1, 4);
	if (t->cdb[1] & 0x01) /* SP: nothing is saved */
		return scsi_task_error(t, SCSI_SR_SAVING_PARAMS_UNSUPPORTED);
	if (plen == 0)
		return SCSI_EXEC_DONE;
	if (plen > t->edtl || !d || plen < hdr)
		return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);
	t->xfer_len = plen;

	bdl = ten ? scsi_get_be16(d + 6) : d[3];
	if (d[ten ? 2 : 1]) /* MEDIUM TYPE 00h only */
		return scsi_task_error_param(t, ten ? 2 : 1, -1);
	if (bdl && bdl != 8 && bdl != 16)
		return scsi_task_error_param(t, ten ? 6 : 3, -1);
	if (hdr + bdl > plen)
		return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);
	if (bdl) {
		/* The block length must stay what it is (0: unchanged). */
		uint32_t bl = bdl == 16 ? scsi_get_be32(d + hdr + 12)
					: scsi_get_be24(d + hdr + 5);

		if (bl && bl != lu->cfg.block_size)
			return scsi_task_error_param(
				t, (uint16_t)(hdr + (bdl == 16 ? 12 : 5)), -1);
	}

	/* Pass 1: validate every page; pass 2: apply. */
	for (off = hdr + bdl; off < plen; off += 2u + d[off + 1]) {
		if (plen - off < 2)
			return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);
		if (spc_mode_select_check(t, d + off, off, plen - off))
			return SCSI_EXEC_DONE;
	}
	for (off = hdr + bdl; off < plen; off += 2u + d[off + 1]) {
		const uint8_t *p = d + off;
		bool v;

		switch (p[0] & 0x3F) {
		case SPC_MP_CACHING:
			v = p[2] & 0x04;
			changed |= atomic_exchange(&lu->wce, v) != v;
			break;
		case SPC_MP_CONTROL:
			v = p[2] & 0x04;
			changed |= atomic_exchange(&lu->d_sense, v) != v;
			v = p[4] & 0x08;
			changed |= atomic_exchange(&lu->swp, v) != v;
			v = p[5] & 0x40;
			changed |= atomic_exchange(&lu->tas, v) != v;
			break;
		default:
			break;
		}
	}
	/* SPC-4 5.14 / 6.11: the other I_T nexuses learn of the change. */
	if (changed)
		scsi_lun_ua_raise_all(lu, SCSI_UA_MODE_PARAMS_CHANGED, t->nexus);
	return SCSI_EXEC_DONE;
}

/* --- START STOP UNIT (SBC-3 5.25) --- */

enum scsi_exec spc_start_stop_unit(struct scsi_task *t)
{
	uint8_t pc = t->cdb[4] >> 4;
	bool loej = t->cdb[4] & 0x02;

	switch (pc) {
	case 0x0: case 0x1: case 0x2: case 0x3:
	case 0x5: case 0x7: case 0xA: case 0xB:
		break;
	default:
		return scsi_task_error_cdb(t, 4, 7);
	}
	if (pc)
		return SCSI_EXEC_DONE; /* power conditions: START/LOEJ ignored */
	/* The medium is not removable (RMB = 0): nothing to load or eject. */
	if (loej)
		return scsi_task_error_cdb(t, 4, 1);
	/* A virtual disk has nothing to spin: START = 0 is accepted and the
	 * LU stays ready (lu->stopped is kept for a later "stopped" model). */
	return SCSI_EXEC_DONE;
}

/* --- PREVENT ALLOW MEDIUM REMOVAL (SBC-3 5.13) --- */

enum scsi_exec spc_prevent_allow(struct scsi_task *t)
{
	uint8_t prevent = t->cdb[4] & 0x03;

	if (prevent > 1) /* 10b, 11b: obsolete for SBC */
		return scsi_task_error_cdb(t, 4, 1);
	/* Non-removable: recorded (a reset clears it) but nothing to lock. */
	atomic_store(&t->lu->prevent, prevent);
	return SCSI_EXEC_DONE;
}
