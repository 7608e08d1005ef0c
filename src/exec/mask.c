/*
 * The streaming masker (mask.h). The whole pending input is the held
 * buffer; one scan decides from its start as far as it can: at each
 * position, if a secret could still match with bytes not yet seen, stop
 * and hold the rest; else mask the longest secret that matches there, or
 * pass one byte. Stopping only where the future could change the answer
 * is what makes the output independent of how the input was cut.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/mask.h"
#include "util/xalloc.h"

void mask_init(struct mask *m)
{
	memset(m, 0, sizeof(*m));
	strbuf_init(&m->held, 0);
}

int mask_active(const struct mask *m)
{
	return m->nr > 0;
}

/*
 * What scan() looks up instead of comparing every secret at every byte:
 * the first byte and the first two bytes of each, and the secrets
 * grouped by first byte (a counting sort; rebuilt at each add, of which
 * there are at most MASK_MAX_SECRETS).
 */
static void index_secrets(struct mask *m)
{
	unsigned short count[256];
	size_t k;

	memset(m->first, 0, sizeof(m->first));
	memset(m->pair, 0, sizeof(m->pair));
	memset(count, 0, sizeof(count));
	m->order = xrealloc(m->order, m->nr * sizeof(*m->order));
	for (k = 0; k < m->nr; k++) {
		const unsigned char *v = (const unsigned char *)m->secrets[k];

		m->first[v[0]] |= MASK_FIRST;
		if (m->lens[k] == 1)
			m->first[v[0]] |= MASK_ONE;
		else
			m->pair[(v[0] << 8 | v[1]) >> 3] |= (unsigned char)(1 << (v[1] & 7));
		count[v[0]]++;
	}
	m->bucket[0] = 0;
	for (k = 0; k < 256; k++)
		m->bucket[k + 1] = (unsigned short)(m->bucket[k] + count[k]);
	memset(count, 0, sizeof(count));
	for (k = 0; k < m->nr; k++) {
		unsigned char c = (unsigned char)m->secrets[k][0];

		m->order[m->bucket[c] + count[c]++] = (unsigned short)k;
	}
}

int mask_add(struct mask *m, const char *value)
{
	size_t n = value ? strlen(value) : 0, i;

	if (!n || n > MASK_MAX_LEN || m->nr >= MASK_MAX_SECRETS)
		return -1;
	for (i = 0; i < m->nr; i++)
		if (m->lens[i] == n && !memcmp(m->secrets[i], value, n))
			return -1;
	if (m->nr == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 4;
		m->secrets = xrealloc(m->secrets, m->alloc * sizeof(*m->secrets));
		m->lens = xrealloc(m->lens, m->alloc * sizeof(*m->lens));
	}
	m->secrets[m->nr] = xstrdup(value);
	m->lens[m->nr] = n;
	m->nr++;
	if (n > m->maxlen)
		m->maxlen = n;
	index_secrets(m);
	return 0;
}

/*
 * Decide buf[0..len) as far as possible; at_end: no more bytes will come.
 * Returns how many bytes were decided (the rest is to be held).
 */
static size_t scan(struct mask *m, const char *buf, size_t len, int at_end,
		   mask_write_fn fn, void *ud)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t i = 0, plain = 0, j, k;

	while (i < len) {
		size_t left = len - i, best = 0;
		unsigned c = u[i], p;
		int wait = 0;

		if (!m->first[c]) {
			i++;
			continue;
		}
		/* no secret starts with these two bytes (nor is this byte alone) */
		p = left >= 2 ? c << 8 | u[i + 1] : 0;
		if (left >= 2 && !(m->first[c] & MASK_ONE) &&
		    !(m->pair[p >> 3] & (1 << (p & 7)))) {
			i++;
			continue;
		}
		for (j = m->bucket[c]; j < m->bucket[c + 1]; j++) {
			size_t n;

			k = m->order[j];
			n = m->lens[k];

			if (n <= left) {
				if (n > best && !memcmp(buf + i, m->secrets[k], n))
					best = n;
			} else if (!at_end && !memcmp(buf + i, m->secrets[k], left)) {
				wait = 1;	/* the next bytes may complete it */
				break;
			}
		}
		if (wait)
			break;
		if (!best) {
			i++;
			continue;
		}
		if (i > plain)
			fn(ud, buf + plain, i - plain);
		fn(ud, MASK_TEXT, sizeof(MASK_TEXT) - 1);
		i += best;
		plain = i;
	}
	if (i > plain)
		fn(ud, buf + plain, i - plain);
	return i;
}

void mask_feed(struct mask *m, const char *data, size_t len, mask_write_fn fn, void *ud)
{
	size_t done;

	if (!m->nr) {
		if (len)
			fn(ud, data, len);
		return;
	}
	if (!m->held.len) {
		/* the usual case: nothing held, decide in the caller's buffer */
		done = scan(m, data, len, 0, fn, ud);
		strbuf_add(&m->held, data + done, len - done);
		return;
	}
	strbuf_add(&m->held, data, len);
	done = scan(m, m->held.buf, m->held.len, 0, fn, ud);
	if (done) {
		memmove(m->held.buf, m->held.buf + done, m->held.len - done);
		strbuf_setlen(&m->held, m->held.len - done);
	}
}

void mask_flush(struct mask *m, mask_write_fn fn, void *ud)
{
	if (m->held.len)
		scan(m, m->held.buf, m->held.len, 1, fn, ud);
	strbuf_reset(&m->held);
}

void mask_release(struct mask *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++) {
		memset(m->secrets[i], 0, m->lens[i]);
		free(m->secrets[i]);
	}
	free(m->secrets);
	free(m->lens);
	free(m->order);
	if (m->held.alloc)
		memset(m->held.buf, 0, m->held.alloc);
	strbuf_release(&m->held);
	memset(m, 0, sizeof(*m));
	strbuf_init(&m->held, 0);
}
