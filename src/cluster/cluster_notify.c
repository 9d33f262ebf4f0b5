/*
 * Notify with blocking acknowledge: a built-in channel (CLUSTER_CH_NOTIFY)
 * without replicated state. The payload is a u16 topic and the bytes; the
 * apply runs the handler registered for the topic on every member (it may
 * defer with its token), so the sender's ordinary commit completion fires
 * when every member's handler has finished. Deliberately tiny: no topic
 * registry across nodes, no payload format beyond the topic.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "cluster/cluster_internal.h"
#include "cluster/cluster_msg.h"
#include "cluster/cluster_services.h"

static int cluster_notify_apply(void *arg, const struct cluster_msg_info *mi,
				const void *data, size_t len,
				struct cluster_apply *token)
{
	struct cluster *c = arg;
	struct cluster_notify_handler *h, *tmp;
	uint16_t topic;

	if (len < 2) {
		LOG_WARN("cluster: short notify from node %u ignored",
			 mi->from);
		return CLUSTER_APPLY_DONE;
	}
	topic = cluster_get_u16(data);
	list_for_each_entry_safe(h, tmp, &c->notify_handlers, link)
		if (h->topic == topic)
			return h->cb(h, mi, (const uint8_t *)data + 2,
				     len - 2, token);
	return CLUSTER_APPLY_DONE;
}

/* Notify keeps no replicated state. */
static int cluster_notify_save(void *arg, void **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	return 0;
}

static int cluster_notify_load(void *arg, const void *data, size_t len)
{
	return len ? -EINVAL : 0;
}

void cluster_notify_register(struct cluster *c,
			     struct cluster_notify_handler *h)
{
	list_add_tail(&c->notify_handlers, &h->link);
}

void cluster_notify_unregister(struct cluster *c,
			       struct cluster_notify_handler *h)
{
	list_del(&h->link);
}

int cluster_notify_send(struct cluster *c, uint16_t topic, const void *data,
			size_t len, cluster_done_fn done, void *ctx)
{
	uint8_t t[2];
	struct iovec iov[2] = { { t, 2 }, { (void *)data, len } };

	cluster_put_u16(t, topic);
	return cluster_submitv(c->notify_ch, iov, 2, done, ctx);
}

int cluster_notify_attach(struct cluster *c)
{
	static const struct cluster_channel_ops ops = {
		.id = CLUSTER_CH_NOTIFY,
		.name = "notify",
		.apply = cluster_notify_apply,
		.save = cluster_notify_save,
		.load = cluster_notify_load,
	};

	return cluster_channel_open(c, &ops, c, &c->notify_ch);
}
