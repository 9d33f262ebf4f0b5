/*
 * libFuzzer harness: the iSCSI TransportID decoder (src/pr/transportid.c,
 * SPC-4 7.6.4.6). Any input must be decoded or refused without a crash or
 * an out-of-bounds read; a refusal must point inside the input's header or
 * descriptor; and whatever decodes must survive encode -> decode unchanged
 * (abort() otherwise, so libFuzzer reports the input). The same bytes also
 * feed pr_tid_from_port (ISID, then a name): what encode accepts from it
 * must decode back to the same port.
 */
#include <errno.h>
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

/* A port identity from raw bytes: 6 bytes of ISID, then the name. */
static void fuzz_tid_port_check(const uint8_t *data, size_t size)
{
	struct pr_tid port, back;
	char name[300];
	uint8_t buf[512];
	size_t n, bad;
	int len;

	if (size < 6)
		return;
	n = size - 6 < sizeof(name) - 1 ? size - 6 : sizeof(name) - 1;
	memcpy(name, data + 6, n);
	name[n] = '\0';
	pr_tid_from_port(&port, name, data);
	len = pr_tid_encode(&port, buf, sizeof(buf));
	if (len == -ENOSPC)
		abort();
	if (len < 0)
		return;
	if (pr_tid_decode(buf, (size_t)len, &back, &bad) != len ||
	    !fuzz_tid_same(&port, &back) || !pr_tid_match(&port, &back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_tid first, second;
	uint8_t buf[512];
	size_t bad = 0, bad2 = 0;
	int len, len2;

	fuzz_tid_port_check(data, size);
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
