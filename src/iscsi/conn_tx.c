/*
 * The transmit side of a connection: outgoing PDUs queued in order,
 * StatSN/ExpCmdSN/MaxCmdSN and digests filled as each PDU reaches the head
 * (so StatSN leaves in order, RFC 7143 4.2.2.2), and sendmsg() of many
 * PDUs at once with the data straight from where it lives (a task's
 * buffer for Data-In): no copy. A full socket arms EPOLLOUT; the queue is
 * flushed after each loop turn, so one turn's responses share a syscall.
 *
 * It does not decide what to send (session.c, cmd.c, tmf.c do) and never
 * frees a connection: a write error goes to iscsi_conn_close().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "iscsi/runtime.h"

#define ISCSI_CONN_IOV_MAX 64 /* iovecs per sendmsg */

static const uint8_t iscsi_conn_zero_pad[4];

/* RFC 7143 11.1 + RFC 3720 B.4: the CRC32C is sent least significant byte
 * first. */
static void iscsi_conn_put_digest(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

/* ------------------------------------------------------------------ */
/* transmit */

struct iscsi_txpdu *iscsi_txpdu_alloc(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	list_init(&p->link);
	p->fill_sn = true;
	p->hdig = c->tx_hdig;
	p->ddig = c->tx_ddig;
	return p;
}

void iscsi_txpdu_free(struct iscsi_txpdu *p)
{
	if (p->free_data)
		free((void *)p->data);
	if (p->task)
		iscsi_task_put(p->task);
	free(p);
}

/* Fills the sequence numbers and digests as the PDU reaches the head of
 * the queue, so StatSN goes out in order (RFC 7143 4.2.2.2). */
static void iscsi_conn_tx_prepare(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	if (p->prepared)
		return;
	if (p->fill_sn) {
		uint8_t op = iscsi_bhs_opcode(p->bhs);

		if (p->status)
			iscsi_put_be32(p->bhs + 24, c->stat_sn++);
		else if (op != ISCSI_OP_DATA_IN)
			iscsi_put_be32(p->bhs + 24, c->stat_sn);
		if (c->sess) {
			iscsi_put_be32(p->bhs + 28, c->sess->win.exp_cmdsn);
			iscsi_put_be32(p->bhs + 32,
				       iscsi_session_max_cmdsn(c->sess));
		}
	}
	iscsi_bhs_set_dsl(p->bhs, p->data_len);
	if (p->hdig)
		iscsi_conn_put_digest(p->hdigest,
				      crc32c(0, p->bhs, ISCSI_BHS_LEN));
	if (p->ddig && p->data_len) {
		uint32_t crc = crc32c(0, p->data, p->data_len);
		uint32_t pad = iscsi_pad4(p->data_len) - p->data_len;

		if (pad)
			crc = crc32c(crc, iscsi_conn_zero_pad, pad);
		iscsi_conn_put_digest(p->ddigest, crc);
	}
	p->prepared = true;
	p->sent = 0;
	LOG_DEBUG("iscsi %s: tx op 0x%02x itt 0x%08x dsl %u", c->peer,
		  iscsi_bhs_opcode(p->bhs), iscsi_bhs_itt(p->bhs), p->data_len);
}

/* The wire parts of p, in order; returns how many. */
static int iscsi_conn_tx_parts(struct iscsi_txpdu *p, struct iovec *iov)
{
	int n = 0;
	uint32_t pad = iscsi_pad4(p->data_len) - p->data_len;

	iov[n++] = (struct iovec){ p->bhs, ISCSI_BHS_LEN };
	if (p->hdig)
		iov[n++] = (struct iovec){ p->hdigest, ISCSI_DIGEST_LEN };
	if (p->data_len) {
		iov[n++] = (struct iovec){ (void *)p->data, p->data_len };
		if (pad)
			iov[n++] = (struct iovec){ (void *)iscsi_conn_zero_pad,
						   pad };
		if (p->ddig)
			iov[n++] = (struct iovec){ p->ddigest,
						   ISCSI_DIGEST_LEN };
	}
	return n;
}

static uint32_t iscsi_conn_tx_total(const struct iscsi_txpdu *p)
{
	uint32_t t = ISCSI_BHS_LEN + (p->hdig ? ISCSI_DIGEST_LEN : 0);

	if (p->data_len)
		t += iscsi_pad4(p->data_len) +
		     (p->ddig ? ISCSI_DIGEST_LEN : 0);
	return t;
}

void iscsi_conn_update_events(struct iscsi_conn *c)
{
	uint32_t ev = c->want_out ? EPOLLOUT : 0;

	if (!c->rx_stopped)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (base_loop_mod(c->loop, &c->bfd, ev) < 0)
		iscsi_conn_close(c, "epoll_ctl failed");
}

static void iscsi_conn_set_out(struct iscsi_conn *c, bool want)
{
	if (c->want_out == want || c->state == ISCSI_CONN_CLOSING)
		return;
	c->want_out = want;
	iscsi_conn_update_events(c);
}

/* One PDU fully written: drop it, or let a Data-In train refill it. */
static void iscsi_conn_tx_done(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	bool close_after = p->close_after;

	if (p->refill && p->refill(p)) {
		p->prepared = false;
		p->sent = 0;
		return;
	}
	list_del(&p->link);
	iscsi_txpdu_free(p);
	if (close_after)
		iscsi_conn_close(c, "closed after response");
}

void iscsi_conn_tx_flush(struct iscsi_conn *c)
{
	while (c->state != ISCSI_CONN_CLOSING && !list_empty(&c->txq)) {
		struct iovec iov[ISCSI_CONN_IOV_MAX];
		struct iscsi_txpdu *p;
		int n = 0;
		ssize_t w;

		/* Gather as many whole PDUs as fit; a Data-In train ends the
		 * batch because its next PDU is rendered only after this one. */
		list_for_each_entry(p, &c->txq, link) {
			struct iovec parts[6];
			int np, i;
			uint32_t skip;

			if (n + 6 > ISCSI_CONN_IOV_MAX)
				break;
			iscsi_conn_tx_prepare(c, p);
			np = iscsi_conn_tx_parts(p, parts);
			skip = p->sent;
			for (i = 0; i < np; i++) {
				if (skip >= parts[i].iov_len) {
					skip -= (uint32_t)parts[i].iov_len;
					continue;
				}
				iov[n].iov_base = (char *)parts[i].iov_base + skip;
				iov[n].iov_len = parts[i].iov_len - skip;
				skip = 0;
				n++;
			}
			if (p->refill || p->close_after)
				break;
		}
		{
			struct msghdr mh = { .msg_iov = iov,
					     .msg_iovlen = (size_t)n };

			/* MSG_NOSIGNAL: a peer gone away is EPIPE, not
			 * SIGPIPE */
			w = sendmsg(c->bfd.fd, &mh, MSG_NOSIGNAL);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				iscsi_conn_set_out(c, true);
				return;
			}
			LOG_INFO("iscsi %s: write: %s", c->peer, strerror(errno));
			iscsi_conn_close(c, "write error");
			return;
		}
		while (w > 0 && !list_empty(&c->txq)) {
			uint32_t left;

			p = list_first_entry(&c->txq, struct iscsi_txpdu, link);
			left = iscsi_conn_tx_total(p) - p->sent;
			if ((size_t)w < left) {
				p->sent += (uint32_t)w;
				w = 0;
				break;
			}
			w -= left;
			p->sent += left;
			iscsi_conn_tx_done(c, p);
			if (c->state == ISCSI_CONN_CLOSING)
				return;
		}
	}
	if (c->state != ISCSI_CONN_CLOSING)
		iscsi_conn_set_out(c, false);
}

void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	if (c->state == ISCSI_CONN_CLOSING) {
		iscsi_txpdu_free(p);
		return;
	}
	list_add_tail(&c->txq, &p->link);
	/* Written after the current batch of events, so the responses of
	 * one turn leave in one sendmsg. */
	if (!c->want_out)
		base_defer(c->loop, &c->tx_defer);
}

static void iscsi_conn_tx_defer_cb(struct base_defer *d)
{
	struct iscsi_conn *c = container_of(d, struct iscsi_conn, tx_defer);

	if (c->state != ISCSI_CONN_CLOSING && !c->want_out)
		iscsi_conn_tx_flush(c);
}

void iscsi_conn_tx_init(struct iscsi_conn *c)
{
	list_init(&c->txq);
	base_defer_init(&c->tx_defer, iscsi_conn_tx_defer_cb);
}

void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs,
		       enum iscsi_reject_reason reason)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);
	uint8_t *copy = malloc(ISCSI_BHS_LEN);

	LOG_INFO("iscsi %s: reject op 0x%02x reason 0x%02x", c->peer,
		 iscsi_bhs_opcode(bhs), reason);
	if (!p || !copy) {
		free(p);
		free(copy);
		iscsi_conn_close(c, "no memory for a reject");
		return;
	}
	memcpy(copy, bhs, ISCSI_BHS_LEN);
	/* RFC 7143 11.17 */
	p->bhs[0] = ISCSI_OP_REJECT;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	p->bhs[2] = (uint8_t)reason;
	iscsi_bhs_set_itt(p->bhs, ISCSI_RSVD_TAG);
	p->data = copy;
	p->data_len = ISCSI_BHS_LEN;
	p->free_data = true;
	p->status = true;
	iscsi_conn_queue(c, p);
}

void iscsi_conn_close_after_tx(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p;

	if (c->state == ISCSI_CONN_CLOSING)
		return;
	if (list_empty(&c->txq)) {
		iscsi_conn_close(c, "closed after response");
		return;
	}
	p = list_entry(c->txq.prev, struct iscsi_txpdu, link);
	p->close_after = true;
	/* read nothing more: the rest of the stream is not trusted */
	if (!c->rx_stopped) {
		c->rx_stopped = true;
		iscsi_conn_update_events(c);
	}
}

