/*
 * libFuzzer harness: APTPL image decoding (src/pr/pr_aptpl.c). The input
 * is one mode byte, then a whole image as ctgtd would read it from its
 * state file. Mode bit 0 set: the harness first rewrites the image's last
 * four bytes with the right CRC32C, so mutations get past the checksum
 * and reach the field checks behind it (a fuzzer cannot forge CRCs). Nothing
 * may crash or read out of bounds; a refused image must leave the target
 * state exactly as it was (never half-loaded); peek must accept whatever
 * decode accepts and report the same counters; an accepted image must
 * encode again into an image that decodes to the same state.
 */
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "pr/pr.h"
#include "pr/pr_aptpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_APTPL_MAX_REGS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_config cfg = { .max_regs = FUZZ_APTPL_MAX_REGS,
				 .ptpl_c = true, .crh = true };
	struct pr_state st, before, again;
	uint8_t *img = malloc(size ? size : 1);
	uint8_t *out = malloc(pr_aptpl_size_max(FUZZ_APTPL_MAX_REGS));
	uint64_t epoch = 0, pe = 0, e2 = 0;
	uint32_t pg = 0;
	bool fix_crc = size && (data[0] & 1);
	ssize_t n;
	int rc;

	if (size) {
		data++;
		size--;
	}

	if (!img || !out || pr_state_init(&st, &cfg) != 0) {
		free(img);
		free(out);
		return 0;
	}
	if (pr_state_init(&before, &cfg) != 0 ||
	    pr_state_init(&again, &cfg) != 0)
		abort();
	/* Something in the target to lose: one registration, SCSI-2. */
	st.nregs = 1;
	st.regs[0].key = 1;
	st.regs[0].rtpi = 1;
	pr_tid_from_port(&st.regs[0].tid, "iqn.2026-11.test:fuzz",
			 (const uint8_t[6]){ 0x80, 0, 0, 0, 0, 1 });
	st.s2_reserved = true;
	st.s2_holder.rtpi = 1;
	if (pr_state_copy(&before, &st) != 0)
		abort();

	/* An exact-size copy, so a read past the image is caught. */
	memcpy(img, data, size);
	if (fix_crc && size >= 4) {
		uint32_t c = crc32c(0, img, size - 4);

		img[size - 4] = (uint8_t)(c >> 24);
		img[size - 3] = (uint8_t)(c >> 16);
		img[size - 2] = (uint8_t)(c >> 8);
		img[size - 1] = (uint8_t)c;
	}
	rc = pr_aptpl_decode(img, size, &st, &epoch);
	if (rc != 0) {
		if (!pr_state_equal(&before, &st))
			abort(); /* half-loaded */
		goto out;
	}
	if (pr_aptpl_peek(img, size, &pe, &pg) != 0 || pe != epoch ||
	    pg != st.generation || st.s2_reserved)
		abort();
	n = pr_aptpl_encode(&st, epoch, out,
			    pr_aptpl_size_max(FUZZ_APTPL_MAX_REGS));
	if (n < 0 || pr_aptpl_decode(out, (size_t)n, &again, &e2) != 0 ||
	    e2 != epoch || !pr_state_equal(&st, &again))
		abort();
out:
	pr_state_fini(&again);
	pr_state_fini(&before);
	pr_state_fini(&st);
	free(out);
	free(img);
	return 0;
}
