/*
 * Inside the SCSI core: the command-handler contract, the LUN object and the
 * block limits every part of the core agrees on. Not for fabrics.
 *
 * Handlers: enum scsi_exec h(struct scsi_task *t). A handler either
 *   - finishes inline: sets data (scsi_task_put_data) or an error
 *     (scsi_task_error*) and returns SCSI_EXEC_DONE, or
 *   - starts asynchronous work and returns SCSI_EXEC_PENDING, then calls
 *     scsi_task_finish() exactly once, on the nexus's loop, when done.
 * Nothing else. Status defaults to GOOD; an error helper sets it.
 */
#ifndef CTGT_SCSI_INTERNAL_H
#define CTGT_SCSI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "scsi/scsi.h"

enum scsi_exec { SCSI_EXEC_DONE, SCSI_EXEC_PENDING };

typedef enum scsi_exec (*scsi_exec_fn)(struct scsi_task *t);

/* --- block limits (SBC-3 6.5.3, VPD B0), one place for all of the core --- */
#define SCSI_MAX_XFER_BLOCKS_BYTES SCSI_MAX_XFER_BYTES
#define SCSI_MAX_UNMAP_LBA_COUNT (1u << 22)     /* blocks per UNMAP */
#define SCSI_MAX_UNMAP_DESCRIPTORS 256u          /* finite: see libiscsi quirk */
#define SCSI_MAX_WRITE_SAME_BLOCKS (1u << 22)
#define SCSI_MAX_CAW_BLOCKS 1u                   /* MAXIMUM COMPARE AND WRITE LENGTH */

/* --- results --- */

/* Copies up to len bytes of data-in into task->buf, honouring the command's
 * allocation length and the fabric's edtl. xfer_len = min(len, alloc_len). */
void scsi_task_put_data(struct scsi_task *t, const void *data, uint32_t len,
			uint32_t alloc_len);

enum scsi_exec scsi_task_error(struct scsi_task *t, enum scsi_sense_reason r);
/* INVALID FIELD IN CDB / PARAMETER LIST with the sense-key specific field
 * pointer (SPC-4 4.5.2.4.2); bit < 0 means no bit pointer. */
enum scsi_exec scsi_task_error_cdb(struct scsi_task *t, uint16_t byte, int bit);
enum scsi_exec scsi_task_error_param(struct scsi_task *t, uint16_t byte, int bit);
/* A reason with the INFORMATION field set (e.g. MISCOMPARE offset). */
enum scsi_exec scsi_task_error_info(struct scsi_task *t,
				    enum scsi_sense_reason r, uint64_t info);

/* For PENDING handlers: the command is over (status already set). */
void scsi_task_finish(struct scsi_task *t);

/* --- the logical unit --- */

struct sbc_lun; /* sbc.c's per-LUN state (CAW range locks, ...) */

struct scsi_lun {
	struct scsi_target *target;
	struct list_head target_link;
	struct scsi_lun_config cfg;     /* block_size, nblocks, readonly, thin... */
	struct backstore *bs;
	uint8_t block_shift;            /* log2(cfg.block_size) */
	unsigned index;                 /* position in the target's LUN table */

	/* Mode parameters (changeable by MODE SELECT). */
	atomic_bool wce;                /* caching page WCE */
	atomic_bool d_sense;            /* control page D_SENSE */
	atomic_bool tas;                /* control page TAS */
	atomic_uint_fast8_t qerr;       /* control page QErr */

	/* Every I_T_L nexus of this LUN, for UAs and resets (not the I/O path). */
	pthread_mutex_t itl_lock;
	struct list_head itls;

	struct sbc_lun *sbc;
};

/* sbc.c: per-LUN state, created and freed with the LUN. */
int sbc_lun_init(struct scsi_lun *lu);
void sbc_lun_fini(struct scsi_lun *lu);

/* Big-endian helpers for CDBs and parameter data. */
static inline uint16_t scsi_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t scsi_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t scsi_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t scsi_get_be64(const uint8_t *p)
{
	return (uint64_t)scsi_get_be32(p) << 32 | scsi_get_be32(p + 4);
}
static inline void scsi_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void scsi_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void scsi_put_be64(uint8_t *p, uint64_t v)
{
	scsi_put_be32(p, (uint32_t)(v >> 32));
	scsi_put_be32(p + 4, (uint32_t)v);
}

/* --- SBC-3 command handlers (sbc.c, xcopy.c), referenced by the opcode
 * table in opcodes.c --- */
enum scsi_exec sbc_read(struct scsi_task *t);            /* 08 28 A8 88 */
enum scsi_exec sbc_write(struct scsi_task *t);           /* 0A 2A AA 8A */
enum scsi_exec sbc_write_verify(struct scsi_task *t);    /* 2E AE 8E */
enum scsi_exec sbc_verify(struct scsi_task *t);          /* 2F AF 8F */
enum scsi_exec sbc_write_same(struct scsi_task *t);      /* 41 93 */
enum scsi_exec sbc_unmap(struct scsi_task *t);           /* 42 */
enum scsi_exec sbc_get_lba_status(struct scsi_task *t);  /* 9E/12 */
enum scsi_exec sbc_read_capacity10(struct scsi_task *t); /* 25 */
enum scsi_exec sbc_read_capacity16(struct scsi_task *t); /* 9E/10 */
enum scsi_exec sbc_sync_cache(struct scsi_task *t);      /* 35 91 */
enum scsi_exec sbc_compare_and_write(struct scsi_task *t); /* 89 */
enum scsi_exec sbc_orwrite(struct scsi_task *t);         /* 8B */
enum scsi_exec sbc_prefetch(struct scsi_task *t);        /* 34 90 */
enum scsi_exec sbc_xcopy(struct scsi_task *t);           /* 83/00 LID1 */
enum scsi_exec sbc_receive_copy_results(struct scsi_task *t); /* 84 */

/* For XCOPY: find a LUN of any target by its NAA designator. */
struct scsi_lun *scsi_lun_find_by_naa(const uint8_t *naa, unsigned len);

#endif
