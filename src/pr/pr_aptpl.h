/*
 * APTPL images: the persistent-reservation state of one logical unit as
 * bytes, for "activate persist through power loss" (SPC-4 5.14.5, the
 * APTPL bit of PERSISTENT RESERVE OUT, 6.16.1). Pure: encode a struct
 * pr_state to bytes, decode bytes back; no I/O, no clock.
 *
 * Deliberately NOT here: files, fsync, when to write (src/scsi/pr_store.c
 * and spc_pr.c), choosing between the images of several cluster nodes
 * (the cluster service; pr_aptpl_peek gives it what it compares).
 *
 * The format, version 1, every integer big-endian:
 *
 *   offset size
 *      0    4   magic "CTPR"
 *      4    2   format version (1)
 *      6    2   header length (40)
 *      8    8   epoch (the caller's; see below)
 *     16    4   PRgeneration (SPC-4 6.15.2)
 *     20    4   number of registrations N
 *     24    4   holder: index of the holding registration, FFFFFFFFh for
 *               none and for the all-registrants types
 *     28    1   reservation type (SPC-4 table 165; 0: none)
 *     29    1   scope (0: LU_SCOPE)
 *     30    1   flags: bit 0 APTPL; other bits 0
 *     31    1   reserved (0)
 *     32    4   length R of the registration records
 *     36    4   reserved (0)
 *     40    R   N records, in registration order, each:
 *                 0  8  reservation key (never 0)
 *                 8  2  RTPI it was registered through (never 0)
 *                10  1  flags: bit 0 ALL_TG_PT; other bits 0
 *                11  1  reserved (0)
 *                12  2  TransportID length T (a multiple of 4)
 *                14  2  reserved (0)
 *                16  T  TransportID (SPC-4 7.6.4.6, pr_tid_encode)
 *   40+R    4   CRC32C (Castagnoli) of every byte before it
 *
 * Rules every later version keeps, so that pr_aptpl_peek reads any of
 * them: bytes 0..23 (magic, version, header length, epoch, generation)
 * stay where they are, and the image ends with the CRC32C of all the
 * bytes before it.
 *
 * What is stored is what must survive a power loss. With APTPL set:
 * registrations (TransportID, RTPI, ALL_TG_PT, key), the reservation and
 * the generation. With APTPL clear the image has no registrations and no
 * reservation (SPC-4 5.14.5: the last APTPL bit received was 0, so a
 * power loss removes them) but keeps epoch and generation, so a cluster
 * that restarts can tell that this empty state is the newest. The SCSI-2
 * reservation is never stored: power on ends it (SPC-2 5.5.1).
 *
 * Epoch: a 64-bit number the caller chooses and stores with the state
 * (the cluster will use the membership epoch); after a whole-cluster
 * restart the image with the highest (epoch, generation) wins.
 */
#ifndef CTGT_PR_PR_APTPL_H
#define CTGT_PR_PR_APTPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pr/pr.h"

#define PR_APTPL_MAGIC "CTPR"
#define PR_APTPL_VERSION 1u
#define PR_APTPL_HEADER_LEN 40u
#define PR_APTPL_REC_LEN 16u     /* a record without its TransportID */
#define PR_APTPL_TID_MAX 256u    /* largest iSCSI TransportID, rounded up */
#define PR_APTPL_CRC_LEN 4u

/* Bytes an image of a state with at most max_regs registrations can take. */
size_t pr_aptpl_size_max(unsigned max_regs);

/* Whether registration r duplicates one in regs[0, n): the same
 * initiator port through the same RTPI, or twice with ALL_TG_PT. Decode
 * refuses such an image, and lu_repl_load such a snapshot. */
bool pr_aptpl_reg_dup(const struct pr_reg *regs, uint32_t n,
		      const struct pr_reg *r);

/* Encodes st with the caller's epoch into buf (cap bytes). Returns the
 * image length, -ENOSPC when cap is too small, or -EINVAL when st holds
 * something no image may (a TransportID pr_tid_encode refuses). */
ssize_t pr_aptpl_encode(const struct pr_state *st, uint64_t epoch,
			uint8_t *buf, size_t cap);

/*
 * Decodes the image buf[0, len) into st (initialised by pr_state_init;
 * its cfg stays). All or nothing: the image is checked and decoded into a
 * scratch state first, st changes only on success. On success the SCSI-2
 * reservation of st is none (power on ended it) and *epoch (may be NULL)
 * gets the image's epoch. Errors, st untouched:
 *   -ENODATA          truncated (shorter than its header says)
 *   -EINVAL           not an image (magic), or malformed: trailing bytes,
 *                     a reserved bit or byte set, an invalid type, scope,
 *                     holder, key 0, RTPI 0, TransportID, a duplicate
 *                     registration
 *   -EBADMSG          CRC32C mismatch (corrupt)
 *   -EPROTONOSUPPORT  an unknown format version
 *   -E2BIG            more registrations than st->cfg.max_regs
 *   -ENOMEM           no memory for the scratch state
 */
int pr_aptpl_decode(const uint8_t *buf, size_t len, struct pr_state *st,
		    uint64_t *epoch);

/* Reads the epoch and generation of an image of any version without
 * decoding the rest, after checking its magic, length and CRC: 0, or
 * -ENODATA / -EINVAL / -EBADMSG as pr_aptpl_decode. */
int pr_aptpl_peek(const uint8_t *buf, size_t len, uint64_t *epoch,
		  uint32_t *generation);

/* A short reason for a pr_aptpl_decode / pr_aptpl_peek error (logs). */
const char *pr_aptpl_strerror(int err);

#endif
