/*
 * libFuzzer harness: the clustered device's decoders, the LU messages
 * (src/scsi/lu_repl_msg.c), the LU snapshot loader (lu_repl.c), the port
 * directory's ANNOUNCE decoder and snapshot loader (port_dir.c), and the
 * state they drive. The input is one mode byte, then by mode & 3:
 *   0: LU messages as the cluster delivers them, each a 2-byte big-endian
 *      length and that many bytes;
 *   1: one LU snapshot (lu_repl_load input);
 *   2: ANNOUNCE messages, framed the same way;
 *   3: one port directory snapshot (port_dir_load input).
 * Nothing may crash or read out of bounds (every input is copied to a
 * buffer of its exact size). A refused LU message leaves a zeroed value;
 * an accepted one encodes back to exactly its bytes (one value, one
 * encoding) and is applied to two states, which must stay equal, as must
 * a third rebuilt from the first's snapshot; announcements likewise, on
 * two directories. A refused snapshot leaves the state as it was; an
 * accepted one saves back to exactly its bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi/lu_repl.h"
#include "scsi/port_dir.h"

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

/* The next frame of the input (2 bytes length, cut at the end, then the
 * bytes) in a heap buffer of its exact size, so that ASan sees a read
 * past it; NULL at the end of the input or when out of memory. */
static uint8_t *fuzz_lu_repl_frame(const uint8_t *data, size_t size,
				   size_t *pos, size_t *len)
{
	uint8_t *msg;
	size_t l;

	if (size - *pos < 2)
		return NULL;
	l = (size_t)data[*pos] << 8 | data[*pos + 1];
	*pos += 2;
	if (l > size - *pos)
		l = size - *pos;
	msg = malloc(l ? l : 1);
	if (!msg)
		return NULL;
	memcpy(msg, data + *pos, l);
	*pos += l;
	*len = l;
	return msg;
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
	size_t pos = 0, len;
	uint8_t *msg;

	if (!m || !out)
		goto out;
	while ((msg = fuzz_lu_repl_frame(data, size, &pos, &len))) {
		ssize_t n;

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

/* Two directories fed the same announcements stay byte-identical, and a
 * third loaded from the first's bytes saves the same bytes. */
static void fuzz_lu_repl_dir_same(struct port_dir *a, struct port_dir *b)
{
	struct port_dir *c = NULL;
	void *s1 = NULL, *s2 = NULL, *s3 = NULL;
	size_t l1 = 0, l2 = 0, l3 = 0;

	if (port_dir_save(a, &s1, &l1) != 0 || port_dir_save(b, &s2, &l2) != 0 ||
	    l1 != l2 || memcmp(s1, s2, l1) != 0)
		abort();
	if (port_dir_create(&c) == 0) {
		if (port_dir_load(c, s1, l1) != 0 ||
		    port_dir_save(c, &s3, &l3) != 0 || l3 != l1 ||
		    memcmp(s3, s1, l1) != 0)
			abort();
		port_dir_destroy(c);
	}
	free(s3);
	free(s2);
	free(s1);
}

static void fuzz_lu_repl_announces(const uint8_t *data, size_t size)
{
	struct port_dir *a = NULL, *b = NULL;
	struct port_dir_announce *m = malloc(sizeof(*m));
	uint8_t *out = malloc(PORT_DIR_ANNOUNCE_MAX);
	size_t pos = 0, len;
	uint32_t n = 0;
	uint8_t *msg;

	if (!m || !out || port_dir_create(&a) != 0 ||
	    port_dir_create(&b) != 0)
		goto out;
	while ((msg = fuzz_lu_repl_frame(data, size, &pos, &len))) {
		struct port_dir_result ra, rb;
		ssize_t k;

		if (port_dir_announce_decode(msg, len, m) != 0) {
			free(msg);
			/* every fourth refused frame: a node leaves */
			if (++n % 4 == 0 && len >= 8) {
				uint32_t node = (uint32_t)data[pos - 1] % 4;

				if (port_dir_node_left(a, node) !=
				    port_dir_node_left(b, node))
					abort();
			}
			continue;
		}
		k = port_dir_announce_encode(m, out, PORT_DIR_ANNOUNCE_MAX);
		if (k < 0 || (size_t)k != len || memcmp(out, msg, len) != 0)
			abort();
		free(msg);
		if (port_dir_announce(a, m, &ra) != port_dir_announce(b, m, &rb) ||
		    memcmp(&ra, &rb, sizeof(ra)) != 0)
			abort();
		fuzz_lu_repl_dir_same(a, b);
	}
out:
	port_dir_destroy(b);
	port_dir_destroy(a);
	free(out);
	free(m);
}

static void fuzz_lu_repl_dir_load(const uint8_t *data, size_t size)
{
	struct port_dir *a = NULL;
	uint8_t *img = malloc(size ? size : 1);
	void *s = NULL;
	size_t l = 0;

	if (!img || port_dir_create(&a) != 0)
		goto out;
	memcpy(img, data, size);
	if (port_dir_load(a, img, size) == 0) {
		if (port_dir_save(a, &s, &l) != 0 || l != size ||
		    memcmp(s, img, size) != 0)
			abort();
	} else if (port_dir_count(a) != 0) {
		abort();     /* half-loaded */
	}
out:
	free(s);
	port_dir_destroy(a);
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
	if ((mode & 3) == 2) {
		fuzz_lu_repl_announces(data, size);
		return 0;
	}
	if ((mode & 3) == 3) {
		fuzz_lu_repl_dir_load(data, size);
		return 0;
	}
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
