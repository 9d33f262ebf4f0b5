/*
 * libFuzzer harness: the clustered LU's message decoder (src/scsi/
 * lu_repl_msg.c) and snapshot loader (lu_repl.c), and the state both
 * drive. The input is one mode byte, then:
 *   mode bit 0 clear: a sequence of messages as the cluster delivers them,
 *     each a 2-byte big-endian length and that many bytes;
 *   mode bit 0 set: one snapshot (lu_repl_load input).
 * Nothing may crash or read out of bounds (every message is copied to a
 * buffer of its exact size). A refused message leaves a zeroed value; an
 * accepted one encodes back to exactly its bytes (one value, one
 * encoding) and is applied to two states, which must stay equal, as must
 * a third rebuilt from the first's snapshot. A refused snapshot leaves the
 * state as it was; an accepted one saves back to exactly its bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi/lu_repl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LU_REPL_MAX_REGS 4

/* The port directory of the harness: RTPIs 1..5 exist. */
static bool fuzz_lu_repl_port(void *arg, uint16_t rtpi)
{
	(void)arg;
	return rtpi >= 1 && rtpi <= 5;
}

static bool fuzz_lu_repl_zero(const struct lu_repl_msg *m)
{
	static const struct lu_repl_msg zero;

	return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* st's snapshot loaded into a fresh state must equal st and save to the
 * same bytes. */
static void fuzz_lu_repl_snapshot_check(const struct lu_repl *st)
{
	struct lu_repl again;
	void *s1 = NULL, *s2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (lu_repl_save(st, &s1, &l1) != 0)
		abort();
	if (lu_repl_init(&again, &st->pr.cfg) != 0) {
		free(s1);
		return;
	}
	if (lu_repl_load(&again, s1, l1) != 0 || !lu_repl_equal(&again, st) ||
	    lu_repl_save(&again, &s2, &l2) != 0 || l1 != l2 ||
	    memcmp(s1, s2, l1) != 0)
		abort();
	lu_repl_fini(&again);
	free(s2);
	free(s1);
}

static void fuzz_lu_repl_messages(const uint8_t *data, size_t size,
				  struct lu_repl *a, struct lu_repl *b)
{
	struct pr_target ua[FUZZ_LU_REPL_MAX_REGS], ab[FUZZ_LU_REPL_MAX_REGS];
	struct lu_repl_effects fx = { .pr = { .ua = ua,
		.ua_cap = FUZZ_LU_REPL_MAX_REGS, .aborts = ab,
		.abort_cap = FUZZ_LU_REPL_MAX_REGS } };
	struct lu_repl_msg *m = malloc(sizeof(*m));
	uint8_t *out = malloc(LU_REPL_MSG_MAX);
	size_t pos = 0;

	if (!m || !out)
		goto out;
	while (size - pos >= 2) {
		size_t len = (size_t)data[pos] << 8 | data[pos + 1];
		uint8_t *msg;
		ssize_t n;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		msg = malloc(len ? len : 1);
		if (!msg)
			break;
		memcpy(msg, data + pos, len);
		pos += len;
		if (lu_repl_msg_decode(msg, len, m) != 0) {
			if (!fuzz_lu_repl_zero(m))
				abort();
			free(msg);
			continue;
		}
		n = lu_repl_msg_encode(m, out, LU_REPL_MSG_MAX);
		if (n < 0 || (size_t)n != len || memcmp(out, msg, len) != 0)
			abort();
		free(msg);
		lu_repl_apply(a, m, fuzz_lu_repl_port, NULL, &fx);
		if (fx.pr.ua_count > fx.pr.ua_cap ||
		    fx.pr.abort_count > fx.pr.abort_cap)
			abort();
		lu_repl_apply(b, m, fuzz_lu_repl_port, NULL, &fx);
		if (!lu_repl_equal(a, b))
			abort();
		fuzz_lu_repl_snapshot_check(a);
	}
out:
	free(out);
	free(m);
}

static void fuzz_lu_repl_load(const uint8_t *data, size_t size,
			      struct lu_repl *a, struct lu_repl *b)
{
	uint8_t *img = malloc(size ? size : 1);
	void *s = NULL;
	size_t l = 0;

	if (!img)
		return;
	memcpy(img, data, size);
	if (lu_repl_load(a, img, size) != 0) {
		if (!lu_repl_equal(a, b))
			abort();     /* half-loaded */
		free(img);
		return;
	}
	if (lu_repl_save(a, &s, &l) != 0 || l != size ||
	    memcmp(s, img, size) != 0)
		abort();
	fuzz_lu_repl_snapshot_check(a);
	free(s);
	free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_config cfg = { .max_regs = FUZZ_LU_REPL_MAX_REGS,
				 .ptpl_c = true, .crh = true };
	struct lu_repl a, b;
	struct lu_repl_msg m;
	struct lu_repl_effects fx = { 0 };
	uint8_t mode;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (lu_repl_init(&a, &cfg) != 0)
		return 0;
	if (lu_repl_init(&b, &cfg) != 0) {
		lu_repl_fini(&a);
		return 0;
	}
	if (mode & 1) {
		/* Something in both states to lose: a SCSI-2 reservation. */
		memset(&m, 0, sizeof(m));
		m.type = LU_REPL_MSG_SCSI2_RESERVE;
		m.nexus.rtpi = 1;
		pr_tid_from_port(&m.nexus.tid, "iqn.2026-11.test:fuzz",
				 (const uint8_t[6]){ 0x80, 0, 0, 0, 0, 1 });
		lu_repl_apply(&a, &m, fuzz_lu_repl_port, NULL, &fx);
		lu_repl_apply(&b, &m, fuzz_lu_repl_port, NULL, &fx);
		fuzz_lu_repl_load(data, size, &a, &b);
	} else {
		fuzz_lu_repl_messages(data, size, &a, &b);
	}
	lu_repl_fini(&b);
	lu_repl_fini(&a);
	return 0;
}
