/*
 * libFuzzer harness: the iSCSI TransportID decoder (src/pr/transportid.c,
 * SPC-4 7.6.4.6). Any input must be decoded or refused without a crash or
 * an out-of-bounds read; a refusal must point inside the input's header or
 * descriptor; and whatever decodes must survive encode -> decode unchanged
 * (abort() otherwise, so libFuzzer reports the input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pr/transportid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field-for-field identity, stricter than pr_tid_equal (no case folding). */
static int fuzz_tid_same(const struct pr_tid *a, const struct pr_tid *b)
{
	return a->format == b->format && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->isid, b->isid) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_tid first, second;
	uint8_t buf[512];
	size_t bad = 0, bad2 = 0;
	int len, len2;

	len = pr_tid_decode(data, size, &first, &bad);
	if (len < 0) {
		/* the field pointer names a byte of the header or the input */
		if (bad > 3 && bad >= size)
			abort();
		return 0;
	}
	if (len < 24 || len % 4 != 0 || (size_t)len > size)
		abort();

	len2 = pr_tid_encode(&first, buf, sizeof(buf));
	if (len2 < 24 || len2 % 4 != 0 || len2 > len)
		abort();
	if (pr_tid_decode(buf, (size_t)len2, &second, &bad2) != len2)
		abort();
	if (!fuzz_tid_same(&first, &second) || !pr_tid_equal(&first, &second) ||
	    !pr_tid_match(&first, &second))
		abort();
	return 0;
}
