/*
 * Sense data: the one place a SCSI outcome becomes status + sense bytes.
 *
 * scsi_sense_build() maps every enum scsi_sense_reason to a status and, for
 * CHECK CONDITION, a sense key and ASC/ASCQ (SPC-4 4.5.6, table 28 and the
 * ASC/ASCQ list in annex D), and encodes it in fixed format (70h, SPC-4
 * 4.5.3) or descriptor format (72h, SPC-4 4.5.2) as the LUN's control mode
 * page D_SENSE bit says. The error helpers of scsi_internal.h and the UA gate
 * all come through here. This file does not decide WHEN a command fails and
 * keeps no state: it only encodes.
 */
#include <string.h>

#include "scsi/scsi_internal.h"

/* SPC-4 4.5.6, table 28 */
#define SCSI_KEY_NO_SENSE 0x0
#define SCSI_KEY_NOT_READY 0x2
#define SCSI_KEY_MEDIUM_ERROR 0x3
#define SCSI_KEY_HARDWARE_ERROR 0x4
#define SCSI_KEY_ILLEGAL_REQUEST 0x5
#define SCSI_KEY_UNIT_ATTENTION 0x6
#define SCSI_KEY_DATA_PROTECT 0x7
#define SCSI_KEY_COPY_ABORTED 0xA
#define SCSI_KEY_ABORTED_COMMAND 0xB
#define SCSI_KEY_MISCOMPARE 0xE

#define SCSI_SENSE_FIXED_LEN 18u       /* SPC-4 4.5.3, table 35 */
#define SCSI_SENSE_DESC_HDR_LEN 8u     /* SPC-4 4.5.2.1, table 26 */

struct scsi_sense_row {
	uint8_t status;
	uint8_t key;
	uint8_t asc;
	uint8_t ascq;
};

#define SENSE_CC(k, a, q) { SCSI_STATUS_CHECK_CONDITION, (k), (a), (q) }
#define SENSE_STATUS(s) { (s), 0, 0, 0 }

/* Indexed by enum scsi_sense_reason (see the codes next to each reason). */
static const struct scsi_sense_row scsi_sense_table[] = {
	[SCSI_SR_OK] = SENSE_STATUS(SCSI_STATUS_GOOD),
	[SCSI_SR_INVALID_OPCODE] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x20, 0x00),
	[SCSI_SR_INVALID_FIELD_IN_CDB] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x24, 0x00),
	[SCSI_SR_INVALID_FIELD_IN_PARAM_LIST] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x00),
	[SCSI_SR_PARAM_LIST_LENGTH_ERROR] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x1A, 0x00),
	[SCSI_SR_LBA_OUT_OF_RANGE] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x21, 0x00),
	[SCSI_SR_LUN_NOT_SUPPORTED] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x25, 0x00),
	[SCSI_SR_SAVING_PARAMS_UNSUPPORTED] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x39, 0x00),
	[SCSI_SR_WRITE_PROTECTED] = SENSE_CC(SCSI_KEY_DATA_PROTECT, 0x27, 0x00),
	[SCSI_SR_MISCOMPARE] = SENSE_CC(SCSI_KEY_MISCOMPARE, 0x1D, 0x00),
	[SCSI_SR_READ_ERROR] = SENSE_CC(SCSI_KEY_MEDIUM_ERROR, 0x11, 0x00),
	[SCSI_SR_WRITE_ERROR] = SENSE_CC(SCSI_KEY_MEDIUM_ERROR, 0x0C, 0x00),
	[SCSI_SR_LU_COMM_FAILURE] = SENSE_CC(SCSI_KEY_HARDWARE_ERROR, 0x08, 0x00),
	[SCSI_SR_INTERNAL_TARGET_FAILURE] = SENSE_CC(SCSI_KEY_HARDWARE_ERROR, 0x44, 0x00),
	[SCSI_SR_NOT_READY_STOPPED] = SENSE_CC(SCSI_KEY_NOT_READY, 0x04, 0x02),
	[SCSI_SR_NOT_READY_TRANSITIONING] = SENSE_CC(SCSI_KEY_NOT_READY, 0x04, 0x0A),
	[SCSI_SR_LU_NOT_READY_UNAVAILABLE] = SENSE_CC(SCSI_KEY_NOT_READY, 0x04, 0x0C),
	[SCSI_SR_MEDIUM_REMOVAL_PREVENTED] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x53, 0x02),
	[SCSI_SR_INSUFFICIENT_REG_RESOURCES] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x55, 0x04),
	[SCSI_SR_COPY_TARGET_DEVICE_NOT_REACHABLE] = SENSE_CC(SCSI_KEY_COPY_ABORTED, 0x0D, 0x02),
	[SCSI_SR_TOO_MANY_SEGMENT_DESCRIPTORS] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x08),
	[SCSI_SR_TOO_MANY_TARGET_DESCRIPTORS] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x06),
	[SCSI_SR_UNSUPPORTED_TARGET_DESC_TYPE] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x07),
	[SCSI_SR_UNSUPPORTED_SEGMENT_DESC_TYPE] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x09),
	[SCSI_SR_OPERATION_IN_PROGRESS] = SENSE_CC(SCSI_KEY_ABORTED_COMMAND, 0x00, 0x16),
	[SCSI_SR_COMMANDS_CLEARED_BY_OTHER] = SENSE_CC(SCSI_KEY_UNIT_ATTENTION, 0x2F, 0x00),
	[SCSI_SR_ABORTED_COMMAND] = SENSE_CC(SCSI_KEY_ABORTED_COMMAND, 0x00, 0x00),
	[SCSI_SR_DATA_DIGEST_ERROR] = SENSE_CC(SCSI_KEY_ABORTED_COMMAND, 0x47, 0x05),
	[SCSI_SR_OVERLAPPED_COMMANDS] = SENSE_CC(SCSI_KEY_ABORTED_COMMAND, 0x4E, 0x00),
	[SCSI_SR_RESERVATION_CONFLICT] = SENSE_STATUS(SCSI_STATUS_RESERVATION_CONFLICT),
	[SCSI_SR_BUSY] = SENSE_STATUS(SCSI_STATUS_BUSY),
	[SCSI_SR_TASK_SET_FULL] = SENSE_STATUS(SCSI_STATUS_TASK_SET_FULL),
	[SCSI_SR_TASK_ABORTED] = SENSE_STATUS(SCSI_STATUS_TASK_ABORTED),
	/* ASC/ASCQ come from the UA table below. */
	[SCSI_SR_UNIT_ATTENTION] = SENSE_CC(SCSI_KEY_UNIT_ATTENTION, 0x29, 0x00),
	[SCSI_SR_LU_NOT_READY_STANDBY] = SENSE_CC(SCSI_KEY_NOT_READY, 0x04, 0x0B),
	[SCSI_SR_INVALID_RELEASE_OF_PR] = SENSE_CC(SCSI_KEY_ILLEGAL_REQUEST, 0x26, 0x04),
};

/* The UA table: enum scsi_ua -> ASC/ASCQ (SPC-4 annex D). */
static const uint8_t scsi_sense_ua_table[SCSI_UA_COUNT][2] = {
	[SCSI_UA_POWER_ON] = { 0x29, 0x00 },
	[SCSI_UA_LUN_RESET] = { 0x29, 0x03 },
	[SCSI_UA_NEXUS_LOSS] = { 0x29, 0x07 },
	[SCSI_UA_COMMANDS_CLEARED] = { 0x2F, 0x00 },
	[SCSI_UA_RESERVATIONS_PREEMPTED] = { 0x2A, 0x03 },
	[SCSI_UA_RESERVATIONS_RELEASED] = { 0x2A, 0x04 },
	[SCSI_UA_REGISTRATIONS_PREEMPTED] = { 0x2A, 0x05 },
	[SCSI_UA_ASYMMETRIC_ACCESS_CHANGED] = { 0x2A, 0x06 },
	[SCSI_UA_MODE_PARAMS_CHANGED] = { 0x2A, 0x01 },
	[SCSI_UA_CAPACITY_CHANGED] = { 0x2A, 0x09 },
	[SCSI_UA_INQUIRY_DATA_CHANGED] = { 0x3F, 0x03 },
	[SCSI_UA_REPORTED_LUNS_CHANGED] = { 0x3F, 0x0E },
};

void scsi_sense_ua_code(enum scsi_ua ua, uint8_t *asc, uint8_t *ascq)
{
	if ((unsigned)ua >= SCSI_UA_COUNT)
		ua = SCSI_UA_POWER_ON;
	*asc = scsi_sense_ua_table[ua][0];
	*ascq = scsi_sense_ua_table[ua][1];
}

/* The three bytes of the field pointer sense-key specific data
 * (SPC-4 4.5.2.4.2, table 31). */
static void scsi_sense_put_sks(uint8_t *p, const struct scsi_sense_detail *d)
{
	p[0] = 0x80; /* SKSV */
	if (d->cdb)
		p[0] |= 0x40; /* C/D */
	if (d->bit >= 0)
		p[0] |= 0x08 | (uint8_t)(d->bit & 7); /* BPV, BIT POINTER */
	scsi_put_be16(p + 1, d->field);
}

/* Fixed format, SPC-4 4.5.3, table 35. */
static uint32_t scsi_sense_put_fixed(uint8_t *s, uint8_t key, uint8_t asc,
				     uint8_t ascq,
				     const struct scsi_sense_detail *d)
{
	memset(s, 0, SCSI_SENSE_FIXED_LEN);
	s[0] = 0x70; /* current error */
	s[2] = key & 0x0F;
	s[7] = SCSI_SENSE_FIXED_LEN - 8; /* ADDITIONAL SENSE LENGTH */
	s[12] = asc;
	s[13] = ascq;
	if (d && d->info_valid) {
		/* 4-byte INFORMATION: VALID only when the value fits. */
		if (d->info <= 0xFFFFFFFFu) {
			s[0] |= 0x80;
			scsi_put_be32(s + 3, (uint32_t)d->info);
		}
	}
	if (d && d->sks_valid)
		scsi_sense_put_sks(s + 15, d);
	return SCSI_SENSE_FIXED_LEN;
}

/* Descriptor format, SPC-4 4.5.2.1, table 26, with the information
 * descriptor (4.5.2.2, table 27) and the sense key specific descriptor
 * (4.5.2.4, table 29). */
static uint32_t scsi_sense_put_desc(uint8_t *s, uint8_t key, uint8_t asc,
				    uint8_t ascq,
				    const struct scsi_sense_detail *d)
{
	uint32_t n = SCSI_SENSE_DESC_HDR_LEN;

	memset(s, 0, SCSI_SENSE_MAX);
	s[0] = 0x72;
	s[1] = key & 0x0F;
	s[2] = asc;
	s[3] = ascq;
	if (d && d->info_valid) {
		s[n] = 0x00;      /* information descriptor */
		s[n + 1] = 0x0A;
		s[n + 2] = 0x80;  /* VALID */
		scsi_put_be64(s + n + 4, d->info);
		n += 12;
	}
	if (d && d->sks_valid) {
		s[n] = 0x02;      /* sense key specific descriptor */
		s[n + 1] = 0x06;
		scsi_sense_put_sks(s + n + 4, d);
		n += 8;
	}
	s[7] = (uint8_t)(n - SCSI_SENSE_DESC_HDR_LEN);
	return n;
}

void scsi_sense_build(struct scsi_task *t, enum scsi_sense_reason r,
		      const struct scsi_sense_detail *d)
{
	const struct scsi_sense_row *row;
	uint8_t asc, ascq;
	bool desc;

	if ((unsigned)r >= ARRAY_SIZE(scsi_sense_table))
		r = SCSI_SR_INTERNAL_TARGET_FAILURE;
	row = &scsi_sense_table[r];
	t->status = row->status;
	t->sense_len = 0;
	if (row->status != SCSI_STATUS_CHECK_CONDITION)
		return;

	asc = row->asc;
	ascq = row->ascq;
	if (r == SCSI_SR_UNIT_ATTENTION && d)
		scsi_sense_ua_code((enum scsi_ua)d->ua, &asc, &ascq);

	/* SPC-4 7.5.8, table 274: D_SENSE of the LU; no LU -> fixed. */
	desc = t->lu && atomic_load_explicit(&t->lu->d_sense,
					     memory_order_relaxed);
	if (desc)
		t->sense_len = (uint8_t)scsi_sense_put_desc(t->sense, row->key,
							    asc, ascq, d);
	else
		t->sense_len = (uint8_t)scsi_sense_put_fixed(t->sense, row->key,
							     asc, ascq, d);
}

void scsi_task_set_sense(struct scsi_task *t, enum scsi_sense_reason r)
{
	scsi_sense_build(t, r, NULL);
}

uint32_t scsi_sense_request(uint8_t *buf, uint32_t size,
			    enum scsi_sense_reason r, int ua, bool desc)
{
	struct scsi_sense_detail d = { .ua = ua, .bit = -1 };
	uint8_t tmp[SCSI_SENSE_MAX];
	uint8_t key = SCSI_KEY_NO_SENSE, asc = 0, ascq = 0;
	uint32_t n;

	if ((unsigned)r < ARRAY_SIZE(scsi_sense_table) && r != SCSI_SR_OK) {
		key = scsi_sense_table[r].key;
		asc = scsi_sense_table[r].asc;
		ascq = scsi_sense_table[r].ascq;
		if (r == SCSI_SR_UNIT_ATTENTION)
			scsi_sense_ua_code((enum scsi_ua)ua, &asc, &ascq);
	}
	n = desc ? scsi_sense_put_desc(tmp, key, asc, ascq, &d)
		 : scsi_sense_put_fixed(tmp, key, asc, ascq, &d);
	if (n > size)
		n = size;
	memcpy(buf, tmp, n);
	return n;
}

/* --- the error helpers of scsi_internal.h --- */

enum scsi_exec scsi_task_error(struct scsi_task *t, enum scsi_sense_reason r)
{
	scsi_sense_build(t, r, NULL);
	return SCSI_EXEC_DONE;
}

enum scsi_exec scsi_task_error_cdb(struct scsi_task *t, uint16_t byte, int bit)
{
	struct scsi_sense_detail d = {
		.sks_valid = true, .cdb = true, .bit = (int8_t)bit,
		.field = byte,
	};

	scsi_sense_build(t, SCSI_SR_INVALID_FIELD_IN_CDB, &d);
	return SCSI_EXEC_DONE;
}

enum scsi_exec scsi_task_error_param(struct scsi_task *t, uint16_t byte, int bit)
{
	struct scsi_sense_detail d = {
		.sks_valid = true, .cdb = false, .bit = (int8_t)bit,
		.field = byte,
	};

	scsi_sense_build(t, SCSI_SR_INVALID_FIELD_IN_PARAM_LIST, &d);
	return SCSI_EXEC_DONE;
}

enum scsi_exec scsi_task_error_info(struct scsi_task *t,
				    enum scsi_sense_reason r, uint64_t info)
{
	struct scsi_sense_detail d = {
		.info_valid = true, .info = info, .bit = -1,
	};

	scsi_sense_build(t, r, &d);
	return SCSI_EXEC_DONE;
}
