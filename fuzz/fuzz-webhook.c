/*
 * libFuzzer target: webhook_parse on arbitrary bodies. The first byte
 * picks the forge (bits 0-1) and event (bits 2-4: pushes, tag pushes,
 * merge requests, ping); the body is signed with the fuzzer's secret
 * (so parsing is reached) unless the byte's high bit asks for the raw
 * signature path; bit 0x40 without 0x20 makes it a form delivery (the
 * JSON in a percent-encoded payload field: GitHub's signature still
 * covers the body as sent, so its parsing is reached). Must not crash,
 * leak, or print; a push or merge request must have its strings set.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "forge/webhook.h"
#include "util/hmac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const events[] = { "push", "Push Hook",
		"Tag Push Hook", "ping", "pull_request", "Merge Request Hook",
		"push", "pull_request" };
	struct webhook_input in = { 0 };
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], sig[7 + SHA256_HEX_LEN + 1];
	const char *event;
	unsigned sel;
	int rc;

	if (!size)
		return 0;
	sel = data[0];
	data++;
	size--;
	event = events[(sel >> 2) & 7];
	hmac_sha256(SECRET, strlen(SECRET), data, size, mac);
	sha256_to_hex(mac, hex);
	memcpy(sig, "sha256=", 7);
	memcpy(sig + 7, hex, sizeof(hex));
	if (sel & 0x80)
		sig[7] ^= 1;   /* a wrong signature */
	in.body = data;
	in.len = size;
	in.max_body = 4096;
	switch (sel & 3) {
	case 0:
		in.github_event = event;
		in.github_signature = sig;
		break;
	case 1:
		in.gitlab_event = event;
		in.gitlab_token = sel & 0x80 ? "nope" : SECRET;
		break;
	case 2:
		in.gitea_event = event;
		in.github_event = event;
		in.gitea_signature = sig + 7;
		break;
	default:
		in.gogs_event = event;
		in.gogs_signature = sig + 7;
		break;
	}
	if ((sel & 0x40) && !(sel & 0x20))
		in.content_type = "application/x-www-form-urlencoded";
	rc = webhook_parse(&in, SECRET, &p, &err);
	if (rc == WEBHOOK_PUSH || rc == WEBHOOK_MERGE_REQUEST ||
	    rc == WEBHOOK_MERGE_REQUEST_STATE) {
		if (!p.ref || !p.before || !p.after || !p.clone_url ||
		    !p.repo_name || !p.pusher || !p.message ||
		    strncmp(p.ref, "refs/", 5) || (sel & 0x80))
			__builtin_trap();
		if (rc != WEBHOOK_PUSH &&
		    (p.mr_iid <= 0 || !p.mr_title || !p.mr_url || !p.target_branch ||
		     !p.target_sha || !p.mr_state || strncmp(p.ref, "refs/heads/", 11)))
			__builtin_trap();
	}
	if (rc == WEBHOOK_PUSH || rc == WEBHOOK_MERGE_REQUEST) {
		/* nothing to say */
	} else if (!err.len || (p.ref && rc != WEBHOOK_MERGE_REQUEST_STATE)) {
		__builtin_trap();
	}
	webhook_push_clear(&p);
	strbuf_release(&err);
	return 0;
}
