/*
 * The opcode table: every command the core accepts, as data.
 *
 * One row per opcode (and service action, where the opcode has them) with
 * its handler, CDB length, the flags the gates in task.c test (UA allowed,
 * unknown LUN allowed, writes the medium, medium access), its persistent
 * reservation conflict class (SPC-4 5.13.1, table 63), a timeout for
 * REPORT SUPPORTED OPERATION CODES' timeouts descriptor and the CDB usage
 * data it reports (SPC-4 6.35.3: byte 0 the opcode, the service action
 * value in its field, 1s in every other bit the device server looks at).
 * A 256-entry index maps an opcode to its first row.
 *
 * This file holds no logic beyond the lookup: no command is decoded here.
 * F_S2 marks the commands that run while another I_T nexus holds a SCSI-2
 * reservation. SPC-2 5.5.1 names INQUIRY, REPORT LUNS, REQUEST SENSE and
 * RELEASE(6/10) (GOOD without effect from a non-holder, SPC-2 7.17); every
 * other command that existed then conflicts, TEST UNIT READY and READ
 * CAPACITY included. Commands newer than SPC-2 get the answer of SPC-4
 * 5.14.2, table 63, where they are allowed under every reservation type
 * to every nexus because they only describe the device and its ports:
 * REPORT TARGET PORT GROUPS (multipath path checkers send it down every
 * path; SPC-4 5.16), REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED
 * TASK MANAGEMENT FUNCTIONS. (LIO lets only INQUIRY and RELEASE through,
 * which fails the ALUA checker of the paths that do not hold the
 * reservation.) PERSISTENT RESERVE IN/OUT are not F_S2: they conflict for
 * every nexus, the holder too (SPC-2 5.5.1; pr_check does the holder's
 * side).
 */
#include <pthread.h>

#include "scsi/scsi_internal.h"

#define F_UA SCSI_OPF_UA_OK
#define F_NOLUN SCSI_OPF_NO_LUN_OK
#define F_WR (SCSI_OPF_WRITES | SCSI_OPF_MEDIUM)
#define F_MED SCSI_OPF_MEDIUM
#define F_SA SCSI_OPF_SA
#define F_ALUA SCSI_OPF_ALUA_OK
#define F_STBY SCSI_OPF_STANDBY_OK
#define F_S2 SCSI_OPF_S2_OK

#define TMO_EMUL 1u  /* emulated command, seconds */
#define TMO_IO 30u   /* backstore I/O */
#define TMO_COPY 60u /* EXTENDED COPY */

/* The CONTROL byte: only NACA (bit 2) is evaluated (and rejected). */
#define CTL 0x04

static const struct scsi_opcode scsi_opcode_table[] = {
	/* --- SPC-4 --- */
	{ 0x00, 0, 6, F_MED, SCSI_PR_ALLOWED, TMO_EMUL, "TEST UNIT READY",
	  spc_test_unit_ready, { 0x00, 0, 0, 0, 0, CTL } },
	{ 0x03, 0, 6, F_UA | F_NOLUN | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL,
	  "REQUEST SENSE", spc_request_sense,
	  { 0x03, 0x01, 0, 0, 0xFF, CTL } },
	{ 0x12, 0, 6, F_UA | F_NOLUN | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL, "INQUIRY",
	  spc_inquiry, { 0x12, 0x01, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x15, 0, 6, F_STBY, SCSI_PR_CONFLICT, TMO_EMUL, "MODE SELECT(6)",
	  spc_mode_select, { 0x15, 0x11, 0, 0, 0xFF, CTL } },
	{ 0x1A, 0, 6, F_STBY, SCSI_PR_READ, TMO_EMUL, "MODE SENSE(6)",
	  spc_mode_sense, { 0x1A, 0x08, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x1B, 0, 6, 0, SCSI_PR_WRITE, TMO_EMUL, "START STOP UNIT",
	  spc_start_stop_unit, { 0x1B, 0x01, 0, 0x0F, 0xF7, CTL } },
	{ 0x1E, 0, 6, 0, SCSI_PR_WRITE, TMO_EMUL,
	  "PREVENT ALLOW MEDIUM REMOVAL", spc_prevent_allow,
	  { 0x1E, 0, 0, 0, 0x03, CTL } },
	{ 0x55, 0, 10, F_STBY, SCSI_PR_CONFLICT, TMO_EMUL, "MODE SELECT(10)",
	  spc_mode_select,
	  { 0x55, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x5A, 0, 10, F_STBY, SCSI_PR_READ, TMO_EMUL, "MODE SENSE(10)",
	  spc_mode_sense,
	  { 0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, CTL } },
	/* SPC-2 7.21 / 7.17: SCSI-2 reservations of the whole LU; RESERVE
	 * and RELEASE conflict with PRs as SPC-4 5.14.3 (CRH = 1) says. */
	{ 0x16, 0, 6, 0, SCSI_PR_CONFLICT, TMO_EMUL, "RESERVE(6)", spc_reserve,
	  { 0x16, 0, 0, 0, 0, CTL } },
	{ 0x17, 0, 6, F_S2, SCSI_PR_CONFLICT, TMO_EMUL, "RELEASE(6)",
	  spc_release, { 0x17, 0, 0, 0, 0, CTL } },
	{ 0x56, 0, 10, 0, SCSI_PR_CONFLICT, TMO_EMUL, "RESERVE(10)",
	  spc_reserve, { 0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, CTL } },
	{ 0x57, 0, 10, F_S2, SCSI_PR_CONFLICT, TMO_EMUL, "RELEASE(10)",
	  spc_release, { 0x57, 0x10, 0, 0, 0, 0, 0, 0, 0, CTL } },
	/* SPC-4 6.15, 6.16: persistent reservations (spc_pr.c). REGISTER,
	 * REGISTER AND IGNORE EXISTING KEY and CLEAR ignore SCOPE and TYPE;
	 * REPLACE LOST RESERVATION (08h) is not supported. */
	{ 0x5E, 0x00, 10, F_SA | F_STBY, SCSI_PR_PR_IN, TMO_EMUL,
	  "PERSISTENT RESERVE IN(READ KEYS)", spc_pr_in,
	  { 0x5E, 0x00, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x5E, 0x01, 10, F_SA | F_STBY, SCSI_PR_PR_IN, TMO_EMUL,
	  "PERSISTENT RESERVE IN(READ RESERVATION)", spc_pr_in,
	  { 0x5E, 0x01, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x5E, 0x02, 10, F_SA | F_STBY, SCSI_PR_PR_IN, TMO_EMUL,
	  "PERSISTENT RESERVE IN(REPORT CAPABILITIES)", spc_pr_in,
	  { 0x5E, 0x02, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x5E, 0x03, 10, F_SA | F_STBY, SCSI_PR_PR_IN, TMO_EMUL,
	  "PERSISTENT RESERVE IN(READ FULL STATUS)", spc_pr_in,
	  { 0x5E, 0x03, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x00, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(REGISTER)", spc_pr_out,
	  { 0x5F, 0x00, 0x00, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x01, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(RESERVE)", spc_pr_out,
	  { 0x5F, 0x01, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x02, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(RELEASE)", spc_pr_out,
	  { 0x5F, 0x02, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x03, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(CLEAR)", spc_pr_out,
	  { 0x5F, 0x03, 0x00, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x04, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(PREEMPT)", spc_pr_out,
	  { 0x5F, 0x04, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x05, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(PREEMPT AND ABORT)", spc_pr_out,
	  { 0x5F, 0x05, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x06, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(REGISTER AND IGNORE EXISTING KEY)", spc_pr_out,
	  { 0x5F, 0x06, 0x00, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x5F, 0x07, 10, F_SA | F_STBY, SCSI_PR_PR_OUT, TMO_EMUL,
	  "PERSISTENT RESERVE OUT(REGISTER AND MOVE)", spc_pr_out,
	  { 0x5F, 0x07, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0xA0, 0, 12, F_UA | F_NOLUN | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL,
	  "REPORT LUNS", spc_report_luns,
	  { 0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, CTL } },
	{ 0xA3, 0x0A, 12, F_SA | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL,
	  "REPORT TARGET PORT GROUPS", alua_report_tpgs,
	  { 0xA3, 0xEA, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, CTL } },
	{ 0xA3, 0x0C, 12, F_SA | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL,
	  "REPORT SUPPORTED OPERATION CODES", spc_report_supported_opcodes,
	  { 0xA3, 0x0C, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0,
	    CTL } },
	{ 0xA3, 0x0D, 12, F_SA | F_ALUA | F_S2, SCSI_PR_ALLOWED, TMO_EMUL,
	  "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
	  spc_report_supported_tmf,
	  { 0xA3, 0x0D, 0x80, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, CTL } },

	/* --- SBC-3 (sbc.c, xcopy.c) --- */
	{ 0x08, 0, 6, F_MED, SCSI_PR_READ, TMO_IO, "READ(6)", sbc_read,
	  { 0x08, 0x1F, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x0A, 0, 6, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE(6)", sbc_write,
	  { 0x0A, 0x1F, 0xFF, 0xFF, 0xFF, CTL } },
	{ 0x25, 0, 10, 0, SCSI_PR_ALLOWED, TMO_EMUL, "READ CAPACITY(10)",
	  sbc_read_capacity10,
	  { 0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, CTL } },
	{ 0x28, 0, 10, F_MED, SCSI_PR_READ, TMO_IO, "READ(10)", sbc_read,
	  { 0x28, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x2A, 0, 10, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE(10)", sbc_write,
	  { 0x2A, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x2E, 0, 10, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE AND VERIFY(10)",
	  sbc_write_verify,
	  { 0x2E, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x2F, 0, 10, F_MED, SCSI_PR_READ, TMO_IO, "VERIFY(10)", sbc_verify,
	  { 0x2F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x34, 0, 10, F_MED, SCSI_PR_READ, TMO_IO, "PRE-FETCH(10)",
	  sbc_prefetch,
	  { 0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x35, 0, 10, F_MED, SCSI_PR_WRITE, TMO_IO,
	  "SYNCHRONIZE CACHE(10)", sbc_sync_cache,
	  { 0x35, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x37, 0, 10, 0, SCSI_PR_READ, TMO_EMUL, "READ DEFECT DATA(10)",
	  sbc_read_defect_data,
	  { 0x37, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, CTL } },
	{ 0x41, 0, 10, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE SAME(10)",
	  sbc_write_same,
	  { 0x41, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x42, 0, 10, F_WR, SCSI_PR_WRITE, TMO_IO, "UNMAP", sbc_unmap,
	  { 0x42, 0x01, 0, 0, 0, 0, 0x1F, 0xFF, 0xFF, CTL } },
	{ 0x83, 0x00, 16, F_SA, SCSI_PR_WRITE, TMO_COPY,
	  "EXTENDED COPY(LID1)", sbc_xcopy,
	  { 0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0,
	    CTL } },
	{ 0x84, 0x00, 16, F_SA, SCSI_PR_READ, TMO_EMUL,
	  "RECEIVE COPY RESULTS(COPY STATUS)", sbc_receive_copy_results,
	  { 0x84, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0,
	    CTL } },
	{ 0x84, 0x03, 16, F_SA, SCSI_PR_READ, TMO_EMUL,
	  "RECEIVE COPY RESULTS(OPERATING PARAMETERS)",
	  sbc_receive_copy_results,
	  { 0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0,
	    CTL } },
	{ 0x88, 0, 16, F_MED, SCSI_PR_READ, TMO_IO, "READ(16)", sbc_read,
	  { 0x88, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x89, 0, 16, F_WR, SCSI_PR_WRITE, TMO_IO, "COMPARE AND WRITE",
	  sbc_compare_and_write,
	  { 0x89, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0,
	    0, 0xFF, 0x1F, CTL } },
	{ 0x8A, 0, 16, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE(16)", sbc_write,
	  { 0x8A, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x8B, 0, 16, F_WR, SCSI_PR_WRITE, TMO_IO, "ORWRITE(16)",
	  sbc_orwrite,
	  { 0x8B, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x8E, 0, 16, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE AND VERIFY(16)",
	  sbc_write_verify,
	  { 0x8E, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x8F, 0, 16, F_MED, SCSI_PR_READ, TMO_IO, "VERIFY(16)", sbc_verify,
	  { 0x8F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x90, 0, 16, F_MED, SCSI_PR_READ, TMO_IO, "PRE-FETCH(16)",
	  sbc_prefetch,
	  { 0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x91, 0, 16, F_MED, SCSI_PR_WRITE, TMO_IO,
	  "SYNCHRONIZE CACHE(16)", sbc_sync_cache,
	  { 0x91, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x93, 0, 16, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE SAME(16)",
	  sbc_write_same,
	  { 0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0x1F, CTL } },
	{ 0x9E, 0x10, 16, F_SA, SCSI_PR_ALLOWED, TMO_EMUL,
	  "READ CAPACITY(16)", sbc_read_capacity16,
	  { 0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0,
	    CTL } },
	{ 0x9E, 0x12, 16, F_SA | F_MED, SCSI_PR_READ, TMO_EMUL,
	  "GET LBA STATUS", sbc_get_lba_status,
	  { 0x9E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0, CTL } },
	{ 0xA8, 0, 12, F_MED, SCSI_PR_READ, TMO_IO, "READ(12)", sbc_read,
	  { 0xA8, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F,
	    CTL } },
	{ 0xAA, 0, 12, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE(12)", sbc_write,
	  { 0xAA, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F,
	    CTL } },
	{ 0xAE, 0, 12, F_WR, SCSI_PR_WRITE, TMO_IO, "WRITE AND VERIFY(12)",
	  sbc_write_verify,
	  { 0xAE, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F,
	    CTL } },
	{ 0xAF, 0, 12, F_MED, SCSI_PR_READ, TMO_IO, "VERIFY(12)", sbc_verify,
	  { 0xAF, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F,
	    CTL } },
	{ 0xB7, 0, 12, 0, SCSI_PR_READ, TMO_EMUL, "READ DEFECT DATA(12)",
	  sbc_read_defect_data,
	  { 0xB7, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, CTL } },
};

/* opcode -> 1 + index of its first row (0: unsupported). Rows of one
 * opcode are contiguous in the table above. */
static uint8_t scsi_opcode_index[256];
static pthread_once_t scsi_opcode_once = PTHREAD_ONCE_INIT;

static void scsi_opcode_index_build(void)
{
	for (unsigned i = ARRAY_SIZE(scsi_opcode_table); i-- > 0;)
		scsi_opcode_index[scsi_opcode_table[i].opcode] = (uint8_t)(i + 1);
}

static const struct scsi_opcode *scsi_opcode_first(uint8_t opcode)
{
	pthread_once(&scsi_opcode_once, scsi_opcode_index_build);
	if (!scsi_opcode_index[opcode])
		return NULL;
	return &scsi_opcode_table[scsi_opcode_index[opcode] - 1];
}

bool scsi_opcode_has_sa(uint8_t opcode)
{
	const struct scsi_opcode *op = scsi_opcode_first(opcode);

	return op && (op->flags & SCSI_OPF_SA);
}

const struct scsi_opcode *scsi_opcode_lookup(const uint8_t *cdb,
					     bool *sa_invalid)
{
	const struct scsi_opcode *op = scsi_opcode_first(cdb[0]);
	const struct scsi_opcode *end =
		scsi_opcode_table + ARRAY_SIZE(scsi_opcode_table);
	uint8_t sa = cdb[1] & 0x1F; /* SPC-4 4.2.5.1: SERVICE ACTION */

	*sa_invalid = false;
	if (!op)
		return NULL;
	if (!(op->flags & SCSI_OPF_SA))
		return op;
	for (; op < end && op->opcode == cdb[0]; op++)
		if (op->sa == sa)
			return op;
	*sa_invalid = true;
	return NULL;
}

const struct scsi_opcode *scsi_opcode_rows(unsigned *count)
{
	*count = ARRAY_SIZE(scsi_opcode_table);
	return scsi_opcode_table;
}
