/*
 * The cluster wire codec (cluster_msg.c): every type round-trips with the
 * exact big-endian bytes on the wire; every truncation of every type is
 * refused; bad magic, unknown version, unknown type, a length field that
 * disagrees with the buffer, and bad type-specific fields are refused;
 * random bytes never crash the decoder and never decode into something
 * that disagrees with its own length. (That the engine counts and drops
 * what the codec refuses is tested in tests/sim/sim_commit.c, where a
 * rogue node can put raw bytes on the bus.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster_msg.h"

static void test_hdr_bytes(void **state)
{
	uint8_t b[CLUSTER_MSG_HDR_LEN];
	static const uint8_t want[CLUSTER_MSG_HDR_LEN] = {
		'C', 'T', 'G', 'C', CLUSTER_MSG_VERSION, CLUSTER_MSG_DATA,
		0x12, 0x34,                         /* channel */
		0x00, 0x00, 0x00, 0x05,             /* payload length */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* seq */
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, /* inc */
	};

	cluster_msg_hdr_encode(b, CLUSTER_MSG_DATA, 0x1234, 5,
			       0x0102030405060708ull, 0xa1a2a3a4a5a6a7a8ull);
	assert_memory_equal(b, want, sizeof(want));
}

static void test_data_roundtrip(void **state)
{
	uint8_t b[CLUSTER_MSG_HDR_LEN + 7];
	struct cluster_msg m;

	cluster_msg_hdr_encode(b, CLUSTER_MSG_DATA, 16, 7, 99, 1234);
	memcpy(b + CLUSTER_MSG_HDR_LEN, "payload", 7);
	assert_int_equal(cluster_msg_decode(b, sizeof(b), &m), 0);
	assert_int_equal(m.type, CLUSTER_MSG_DATA);
	assert_int_equal(m.channel, 16);
	assert_int_equal(m.seq, 99);
	assert_int_equal(m.inc, 1234);
	assert_int_equal(m.len, 7);
	assert_memory_equal(m.data, "payload", 7);

	/* An empty DATA is a valid message. */
	cluster_msg_hdr_encode(b, CLUSTER_MSG_DATA, 3, 0, 1, 1);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN, &m), 0);
	assert_int_equal(m.len, 0);
}

static void test_ack_announce_loaded_roundtrip(void **state)
{
	uint8_t b[64];
	struct cluster_msg m;
	size_t n;

	n = cluster_msg_ack_encode(b, 0x1122334455667788ull);
	assert_int_equal(n, CLUSTER_MSG_HDR_LEN + 8);
	assert_int_equal(cluster_msg_decode(b, n, &m), 0);
	assert_int_equal(m.type, CLUSTER_MSG_ACK);
	assert_int_equal(m.u.ack.index, 0x1122334455667788ull);
	assert_int_equal(b[CLUSTER_MSG_HDR_LEN], 0x11); /* big-endian */

	n = cluster_msg_announce_encode(b, 7, 8, 9, 10);
	assert_int_equal(n, CLUSTER_MSG_HDR_LEN + 32);
	assert_int_equal(cluster_msg_decode(b, n, &m), 0);
	assert_int_equal(m.type, CLUSTER_MSG_ANNOUNCE);
	assert_int_equal(m.u.announce.tag, 7);
	assert_int_equal(m.u.announce.state_epoch, 8);
	assert_int_equal(m.u.announce.seen_epoch, 9);
	assert_int_equal(m.u.announce.index, 10);

	n = cluster_msg_loaded_encode(b, 0xdeadbeefull);
	assert_int_equal(n, CLUSTER_MSG_HDR_LEN + 8);
	assert_int_equal(cluster_msg_decode(b, n, &m), 0);
	assert_int_equal(m.type, CLUSTER_MSG_LOADED);
	assert_int_equal(m.u.loaded.tag, 0xdeadbeefull);
}

static void test_snapshot_roundtrip(void **state)
{
	uint8_t b[CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_SNAPSHOT_HDR_LEN + 4];
	struct cluster_msg m;
	size_t n;

	n = cluster_msg_snapshot_hdr_encode(b, 5, 10, 6, 4);
	memcpy(b + n, "abcd", 4);
	assert_int_equal(cluster_msg_decode(b, n + 4, &m), 0);
	assert_int_equal(m.type, CLUSTER_MSG_SNAPSHOT);
	assert_int_equal(m.u.snapshot.tag, 5);
	assert_int_equal(m.u.snapshot.total, 10);
	assert_int_equal(m.u.snapshot.offset, 6);
	assert_int_equal(m.len, 4);
	assert_memory_equal(m.data, "abcd", 4);

	/* The fragment must lie inside the blob. */
	n = cluster_msg_snapshot_hdr_encode(b, 5, 9, 6, 4);
	assert_int_equal(cluster_msg_decode(b, n + 4, &m), -EBADMSG);
	n = cluster_msg_snapshot_hdr_encode(b, 5, 3, 6, 4);
	assert_int_equal(cluster_msg_decode(b, n + 4, &m), -EBADMSG);
	/* Empty fragments only for an empty blob. */
	n = cluster_msg_snapshot_hdr_encode(b, 5, 10, 0, 0);
	assert_int_equal(cluster_msg_decode(b, n, &m), -EBADMSG);
	n = cluster_msg_snapshot_hdr_encode(b, 5, 0, 0, 0);
	assert_int_equal(cluster_msg_decode(b, n, &m), 0);
}

/* Every prefix of every type is refused: the length field names the
 * whole message. */
static void test_every_truncation(void **state)
{
	uint8_t msgs[5][128];
	size_t lens[5], i, cut;
	struct cluster_msg m;

	cluster_msg_hdr_encode(msgs[0], CLUSTER_MSG_DATA, 1, 9, 1, 1);
	memcpy(msgs[0] + CLUSTER_MSG_HDR_LEN, "123456789", 9);
	lens[0] = CLUSTER_MSG_HDR_LEN + 9;
	lens[1] = cluster_msg_ack_encode(msgs[1], 3);
	lens[2] = cluster_msg_announce_encode(msgs[2], 1, 2, 3, 4);
	lens[3] = cluster_msg_snapshot_hdr_encode(msgs[3], 1, 3, 0, 3);
	memcpy(msgs[3] + lens[3], "xyz", 3);
	lens[3] += 3;
	lens[4] = cluster_msg_loaded_encode(msgs[4], 1);

	for (i = 0; i < 5; i++) {
		uint8_t *copy;

		assert_int_equal(cluster_msg_decode(msgs[i], lens[i], &m), 0);
		for (cut = 0; cut < lens[i]; cut++) {
			/* heap-exact, so ASan sees any read past the cut */
			copy = malloc(cut ? cut : 1);
			assert_non_null(copy);
			memcpy(copy, msgs[i], cut);
			assert_int_equal(cluster_msg_decode(copy, cut, &m),
					 -EBADMSG);
			free(copy);
		}
	}
}

/* A length field that disagrees with the buffer, either way. */
static void test_length_mismatch(void **state)
{
	uint8_t b[CLUSTER_MSG_HDR_LEN + 16];
	struct cluster_msg m;

	cluster_msg_hdr_encode(b, CLUSTER_MSG_DATA, 1, 8, 1, 1);
	memset(b + CLUSTER_MSG_HDR_LEN, 0, 16);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 8, &m), 0);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 9, &m),
			 -EBADMSG);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 7, &m),
			 -EBADMSG);
	/* Fixed-size types refuse any other payload size. */
	cluster_msg_hdr_encode(b, CLUSTER_MSG_ACK, 0, 9, 0, 0);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 9, &m),
			 -EBADMSG);
	cluster_msg_hdr_encode(b, CLUSTER_MSG_ANNOUNCE, 0, 16, 0, 0);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 16, &m),
			 -EBADMSG);
	cluster_msg_hdr_encode(b, CLUSTER_MSG_LOADED, 0, 7, 0, 0);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 7, &m),
			 -EBADMSG);
	cluster_msg_hdr_encode(b, CLUSTER_MSG_SNAPSHOT, 0, 15, 0, 0);
	assert_int_equal(cluster_msg_decode(b, CLUSTER_MSG_HDR_LEN + 15, &m),
			 -EBADMSG);
}

static void test_bad_magic_version_type(void **state)
{
	uint8_t b[64];
	struct cluster_msg m;
	size_t n = cluster_msg_ack_encode(b, 1);
	int i;

	for (i = 0; i < 4; i++) {
		b[i] ^= 0x20;
		assert_int_equal(cluster_msg_decode(b, n, &m), -EBADMSG);
		b[i] ^= 0x20;
	}
	b[4] = CLUSTER_MSG_VERSION + 1;
	assert_int_equal(cluster_msg_decode(b, n, &m), -EPROTONOSUPPORT);
	b[4] = 0;
	assert_int_equal(cluster_msg_decode(b, n, &m), -EPROTONOSUPPORT);
	b[4] = CLUSTER_MSG_VERSION;
	b[5] = 0;
	assert_int_equal(cluster_msg_decode(b, n, &m), -EPROTO);
	b[5] = 6;
	assert_int_equal(cluster_msg_decode(b, n, &m), -EPROTO);
	b[5] = 0xff;
	assert_int_equal(cluster_msg_decode(b, n, &m), -EPROTO);
	b[5] = CLUSTER_MSG_ACK;
	assert_int_equal(cluster_msg_decode(b, n, &m), 0);

	/* An announce whose seen epoch is below its state's is nonsense. */
	n = cluster_msg_announce_encode(b, 1, 5, 4, 0);
	assert_int_equal(cluster_msg_decode(b, n, &m), -EBADMSG);
}

/* Random buffers (mostly well-formed headers with random bodies): the
 * decoder never reads outside, and what it accepts is self-consistent. */
static void test_random_bytes(void **state)
{
	uint8_t *b;
	struct cluster_msg m;
	int i;
	size_t len, k;

	srand(4);
	for (i = 0; i < 20000; i++) {
		len = (size_t)(rand() % 80);
		b = malloc(len ? len : 1);
		assert_non_null(b);
		for (k = 0; k < len; k++)
			b[k] = (uint8_t)rand();
		if (len >= CLUSTER_MSG_HDR_LEN && rand() % 4) {
			cluster_msg_hdr_encode(b, (uint8_t)(rand() % 7),
					       (uint16_t)rand(),
					       (uint32_t)(len -
							  CLUSTER_MSG_HDR_LEN),
					       0, 0);
		}
		if (cluster_msg_decode(b, len, &m) == 0) {
			assert_true(m.type >= CLUSTER_MSG_DATA &&
				    m.type <= CLUSTER_MSG_LOADED);
			if (m.data) {
				assert_true((const uint8_t *)m.data >= b);
				assert_true((const uint8_t *)m.data + m.len <=
					    b + len);
			}
		}
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_bytes),
		cmocka_unit_test(test_data_roundtrip),
		cmocka_unit_test(test_ack_announce_loaded_roundtrip),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_length_mismatch),
		cmocka_unit_test(test_bad_magic_version_type),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
