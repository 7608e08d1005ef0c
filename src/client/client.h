#ifndef CIDRE_CLIENT_H
#define CIDRE_CLIENT_H

/*
 * The HTTP client of cidre's REST API (docs/api.md): where the server and
 * the token come from, JSON requests, downloads, the live log stream. Its
 * own HTTP/1.1 for http:// to an address or localhost, libcurl for the
 * rest (xfer.h). Used by the client commands (status, log, trigger, ...); it
 * prints nothing: every failure is returned with its reason in err.
 *
 *	struct client c = CLIENT_INIT;
 *	if (client_open(&c, &opts, &err) < 0) ...
 *	rc = client_request(&c, "GET", "/api/v1/pipelines", NULL, &json, &err);
 *	client_close(&c);
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/strbuf.h"

/* Return values (all negative; 0 is success). */
#define CLIENT_EREFUSED    (-1) /* the server answered 3xx/4xx/5xx; err holds its "error" */
#define CLIENT_EUNREACHABLE (-2) /* no answer: connection, DNS, timeout, config */
#define CLIENT_EPROTO      (-3) /* an answer the API does not promise (not JSON, too big) */
#define CLIENT_ELOCAL      (-4) /* a local failure: writing a file, a callback's refusal */

/* Caps on what the server may send. */
#define CLIENT_MAX_RESPONSE  ((size_t)16 << 20) /* one JSON answer */
#define CLIENT_MAX_ERROR     ((size_t)64 << 10) /* an error answer's body */
#define CLIENT_MAX_SSE_EVENT ((size_t)8 << 20)  /* one server-sent event */
#define CLIENT_MAX_CONFIG    ((size_t)64 << 10) /* the config file */
#define CLIENT_MAX_TOKEN     ((size_t)4096)     /* a token file */

/* Default timeouts, seconds. */
#define CLIENT_CONNECT_TIMEOUT 10
#define CLIENT_REQUEST_TIMEOUT 60
#define CLIENT_STREAM_STALL    60 /* a download or stream without a byte */

/* ---- configuration ---------------------------------------------------- */

/*
 * The config file: "key = value" lines, blank lines and lines starting
 * with '#' ignored; keys server, token, token_file. A value may be put in
 * double quotes. Strings are malloc'ed, NULL when not set.
 */
struct client_config {
	char *server;
	char *token;
	char *token_file; /* as written (relative to the file's directory) */
};

void client_config_release(struct client_config *cfg);

/*
 * Parse the config text (len bytes, NUL-terminated) read from path (used
 * in messages only). Later keys win over earlier ones. Returns 0, or -1
 * with "PATH:LINE: ..." in err (cfg is then left with what was parsed).
 */
int client_config_parse(struct client_config *cfg, const char *text,
			size_t len, const char *path, struct strbuf *err);

/*
 * The config file's path: $CIDRE_CONFIG, else
 * $XDG_CONFIG_HOME/cidre/client.conf, else ~/.config/cidre/client.conf.
 * Malloc'ed; NULL if none can be named (no HOME). *explicit is set to 1
 * when it came from $CIDRE_CONFIG (then a missing file is an error).
 */
char *client_config_path(int *explicit);

/*
 * The token_file value made absolute: "~/x" under $HOME, a relative path
 * under the directory of config_path. Malloc'ed.
 */
char *client_config_token_path(const char *token_file, const char *config_path);

/*
 * Read a token file: its first line, surrounding white space removed.
 * Returns 0 and *ret (malloc'ed), or -1 with the reason in err (missing,
 * empty, larger than CLIENT_MAX_TOKEN).
 */
int client_read_token_file(const char *path, char **ret, struct strbuf *err);

/*
 * A server URL as the client keeps it: http:// or https://, no trailing
 * slash. Returns the normalised copy (malloc'ed), or NULL with the reason
 * in err.
 */
char *client_normalize_server(const char *url, struct strbuf *err);

/* ---- the connection --------------------------------------------------- */

/* What the command line said (NULL: not given; a token of "": no token,
 * and none looked for). */
struct client_opts {
	const char *server;
	const char *token;
};

struct client {
	char *server;          /* normalised base URL */
	char *token;           /* API token, or NULL: reads only */
	char *hook_token;      /* sent as X-Cidre-Hook-Token when set */
	const char *server_from; /* where the server URL came from, for messages */
	long connect_timeout;  /* seconds */
	long timeout;          /* seconds, for one JSON request; 0: none */
	long stream_stall;     /* seconds without a byte after which a download
				* or stream fails; 0: never (CLIENT_INIT: 60) */
	long status;           /* HTTP status of the last answer, 0 if none */
	int curl;              /* requests go through libcurl (set by client_open) */
};

#define CLIENT_INIT { NULL, NULL, NULL, NULL, CLIENT_CONNECT_TIMEOUT, \
		      CLIENT_REQUEST_TIMEOUT, CLIENT_STREAM_STALL, 0 }

/*
 * Resolve the server (--server, $CIDRE_SERVER, the config file's server)
 * and the token (--token, $CIDRE_TOKEN, the config file's token, its
 * token_file) and pick the transport. A missing token is not an error
 * (reads need none). Returns 0, or CLIENT_EUNREACHABLE with the reason
 * in err (no server named, a bad URL, an unreadable config file).
 *
 * A server that needs libcurl (https://, a host name), in a program
 * without it (the static cidre): when client_reexec_argv is set,
 * cidre-client is exec'ed with it (nothing returns), else an error.
 */
extern char **client_reexec_argv;
int client_open(struct client *c, const struct client_opts *o, struct strbuf *err);
void client_close(struct client *c);

/*
 * One request to path (starting with "/", e.g. "/api/v1/pipelines?x=1").
 * body, when not NULL, is sent as JSON (not stolen). On a 2xx answer
 * returns 0 and, if ret is not NULL, the parsed JSON (json_null() for an
 * empty body; the caller decrefs). Otherwise one of the CLIENT_E* codes
 * with a message in err: for CLIENT_EREFUSED the server's "error" text
 * (c->status holds the HTTP status), for CLIENT_EUNREACHABLE
 * "cannot reach the server at URL: why".
 */
int client_request(struct client *c, const char *method, const char *path,
		   json_t *body, json_t **ret, struct strbuf *err);
/*
 * GET path, which answers a JSON array of what ("user", "token", ...): as
 * client_request, and CLIENT_EPROTO when the answer is not an array (*ret
 * is then NULL).
 */
int client_get_array(struct client *c, const char *path, const char *what, json_t **ret,
		     struct strbuf *err);

/*
 * GET path and hand the body, as it arrives, to sink (a non-zero return
 * from sink stops the transfer: CLIENT_ELOCAL, with err left to the
 * sink). At most max bytes when max is not 0 (more: CLIENT_EPROTO). No
 * overall timeout: the transfer fails only when no byte arrives for
 * c->stream_stall seconds (a minute by default).
 */
typedef int (*client_sink_fn)(void *ctx, const char *buf, size_t len);
int client_get_stream(struct client *c, const char *path, size_t max,
		      client_sink_fn sink, void *ctx, struct strbuf *err);

/*
 * Follow a job's live log (GET /api/v1/jobs/ID/log/stream, server-sent
 * events) from byte *offset, handing each piece of text to sink, until
 * the "end" event. A dropped connection is resumed with ?offset= after a
 * short pause (at most CLIENT_STREAM_RETRIES times in a row without
 * progress). On success returns 0, *offset is the log size reached and
 * *ret_status the job's final status (malloc'ed).
 */
#define CLIENT_STREAM_RETRIES 8
int client_follow_log(struct client *c, int64_t job, int64_t *offset,
		      client_sink_fn sink, void *ctx, char **ret_status,
		      struct strbuf *err);

/*
 * Parse one "log" event's data ({"offset": N, "text": "..."}) or "end"
 * event's data ({"status": "...", "log_size": N}). Pure; for tests.
 * Returns 0, or -1 if the data is not that object.
 */
int client_parse_log_event(const char *data, size_t len, int64_t *ret_offset,
			   struct strbuf *ret_text);
int client_parse_end_event(const char *data, size_t len, char **ret_status,
			   int64_t *ret_size);

/* A request path component (or artifact path, '/' kept) %-escaped into out. */
void client_escape(struct strbuf *out, const char *s, int keep_slash);

/* Map a CLIENT_E* code (or 0) to the command exit code: 0, 1 or 2. */
int client_exit_code(int rc);

#endif
