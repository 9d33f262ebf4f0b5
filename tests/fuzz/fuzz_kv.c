/*
 * libFuzzer harness: the key=value data segment decoder (param.c,
 * RFC 7143 6.1) and the operational-key negotiation behind it. Any input
 * must be parsed or refused without a crash or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>

#include "iscsi/param.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_kv_iter *it = malloc(sizeof(*it));
	struct iscsi_kv_buf out = { 0 };
	const char *key, *value;
	int rc;

	if (!it)
		return 0;
	iscsi_kv_iter_init(it, data, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size);
	while ((rc = iscsi_kv_next(it, &key, &value)) == 1)
		iscsi_kv_add(&out, key, value);
	free(out.data);
	free(it);
	return 0;
}
