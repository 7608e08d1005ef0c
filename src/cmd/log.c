/*
 * cidre log: a job's log, whole or followed live.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_log_usage[] =
	"usage: cidre log [-f] JOB_ID\n"
	"       cidre log [-f] -p PIPELINE_ID\n"
	"\n"
	"Print the log of a job. With -f, follow it live (server-sent events)\n"
	"until the job ends; a dropped connection is resumed where it stopped.\n"
	"With -p, the logs of every job of a pipeline, one after the other in\n"
	"pipeline order (with -f: each as it runs, until the pipeline ends).\n"
	"\n"
	"options:\n"
	"  -f, --follow       follow the log until the job ends\n"
	"  -p, --pipeline ID  every job of pipeline ID\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 the job succeeded (without -f: also when it has not\n"
	"finished yet), 1 it failed, was canceled or skipped (with -f: did not\n"
	"succeed), or the server refused, 2 usage error or the server cannot be\n"
	"reached.\n";

static int write_out(void *ctx, const char *buf, size_t len)
{
	FILE *f = ctx;

	if (fwrite(buf, 1, len, f) != len)
		return -1;
	return fflush(f) ? -1 : 0;
}

static int status_exit(const char *status, int followed)
{
	if (!strcmp(status, "success"))
		return CLI_OK;
	if (followed || !strcmp(status, "failed") || !strcmp(status, "canceled"))
		return CLI_FAILED;
	return CLI_OK;
}

static int whole_log(struct client *c, int64_t id)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *job = NULL;
	const char *status = "";
	int rc;

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64, id);
	rc = client_request(c, "GET", path.buf, NULL, &job, &err);
	if (!rc) {
		status = cli_str(job, "status", "");
		strbuf_addstr(&path, "/log");
		rc = client_get_stream(c, path.buf, 0, write_out, stdout, &err);
		if (rc == CLIENT_ELOCAL)
			strbuf_addstr(&err, "cannot write the log to standard output");
	}
	rc = rc ? cli_report(rc, &err) : status_exit(status, 0);
	json_decref(job);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

/*
 * How a followed job that did not succeed ended, on stderr: "cidre: job
 * 62 failed, exit code 1"; "failed (allowed)" for one allowed to fail,
 * the reason instead of the exit code when it is not the script's
 * (out_of_memory, job_execution_timeout). From the job as the API has
 * it, or the end event's status alone when that cannot be read.
 */
static void say_end(struct client *c, int64_t id, const char *status)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT, st = STRBUF_INIT;
	json_t *job = NULL;
	const json_t *ec;
	const char *reason;

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64, id);
	if (client_request(c, "GET", path.buf, NULL, &job, &err) == 0 &&
	    !strcmp(cli_str(job, "status", ""), status)) {
		cli_job_status(&st, job);
		ec = json_object_get(job, "exit_code");
		reason = cli_str(job, "failure_reason", "script_failure");
		/* a timeout's or an OOM kill's exit code is the signal's */
		if (json_is_integer(ec) && !strcmp(status, "failed") &&
		    !strcmp(reason, "script_failure"))
			strbuf_addf(&st, ", exit code %" PRId64, (int64_t)json_integer_value(ec));
	} else {
		strbuf_addstr(&st, status);
	}
	fprintf(stderr, "cidre: job %" PRId64 " %s\n", id, st.buf);
	json_decref(job);
	strbuf_release(&path);
	strbuf_release(&err);
	strbuf_release(&st);
}

static int follow_log(struct client *c, int64_t id)
{
	struct strbuf err = STRBUF_INIT;
	char *status = NULL;
	int64_t offset = 0;
	int rc;

	rc = client_follow_log(c, id, &offset, write_out, stdout, &status, &err);
	if (rc == CLIENT_ELOCAL && !err.len)
		strbuf_addstr(&err, "cannot write the log to standard output");
	if (rc) {
		rc = cli_report(rc, &err);
	} else {
		if (strcmp(status, "success"))
			say_end(c, id, status);
		rc = status_exit(status, 1);
	}
	free(status);
	strbuf_release(&err);
	return rc;
}

static int waiting(const char *st)
{
	return !strcmp(st, "created") || !strcmp(st, "pending") || !strcmp(st, "scheduled");
}

/*
 * Every job of a pipeline in order: each is shown once it has started
 * (followed live with follow), skipped and manual jobs say so; ends when
 * the pipeline is final (or waits for a manual job).
 */
static int pipeline_logs(struct client *c, int64_t id, int follow)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *done = json_object(), *p = NULL;
	long wait_ms = 10;
	int rc = 0;

	strbuf_addf(&path, "/api/v1/pipelines/%" PRId64, id);
	for (;;) {
		const json_t *jobs, *job;
		const char *pst;
		size_t i;
		int shown = 0;

		json_decref(p);
		p = NULL;
		strbuf_reset(&err);
		rc = client_request(c, "GET", path.buf, NULL, &p, &err);
		if (rc) {
			rc = cli_report(rc, &err);
			break;
		}
		jobs = json_object_get(p, "jobs");
		pst = cli_str(p, "status", "");
		json_array_foreach(jobs, i, job) {
			char key[32];
			const char *st = cli_str(job, "status", "");
			int64_t jid = cli_int(job, "id", 0);

			snprintf(key, sizeof(key), "%" PRId64, jid);
			if (json_object_get(done, key))
				continue;
			if (waiting(st) && !cli_status_final(pst) && strcmp(pst, "manual"))
				break;	/* in order: wait for this one */
			if (waiting(st) || !strcmp(st, "skipped") || !strcmp(st, "manual")) {
				printf("== %s (%s): %s\n", cli_str(job, "name", "?"),
				       cli_str(job, "stage", "?"), st);
				fflush(stdout);
				json_object_set_new(done, key, json_true());
				continue;
			}
			if (!follow && !cli_status_final(st))
				break;
			printf("== %s (%s), job %s\n", cli_str(job, "name", "?"),
			       cli_str(job, "stage", "?"), key);
			fflush(stdout);
			if (follow ? follow_log(c, jid) == 2 : whole_log(c, jid) == 2) {
				rc = 2;
				goto out;
			}
			json_object_set_new(done, key, json_true());
			shown = 1;
			break;	/* the pipeline may have moved on: look again */
		}
		if (shown) {
			wait_ms = 10;
			continue;
		}
		if (i == json_array_size(jobs) &&
		    (cli_status_final(pst) || !strcmp(pst, "manual") || !follow)) {
			printf("== pipeline %" PRId64 ": %s%s\n", id, pst,
			       !strcmp(pst, "success") && cli_allowed_failed(jobs) ?
			       " with warnings" : "");
			rc = !strcmp(pst, "success") || !strcmp(pst, "manual") ? CLI_OK : CLI_FAILED;
			break;
		}
		if (!follow) {
			printf("== pipeline %" PRId64 ": %s\n", id, pst);
			break;
		}
		cli_pause_ms(wait_ms);
		if (wait_ms < 500)
			wait_ms = wait_ms * 3 / 2 + 1;
	}
out:
	json_decref(p);
	json_decref(done);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "pipeline", required_argument, NULL, 'p' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts copts = { NULL, NULL };
	struct client c = CLIENT_INIT;
	int follow = 0, ch, rc;
	int64_t id, pipeline = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "fp:", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &copts))
			continue;
		if (ch == 'f')
			follow = 1;
		else if (ch == 'p' && cli_parse_id(optarg, &pipeline) == 0)
			;
		else
			return cli_bad_option("log", argv[optind - 1], longopts);
	}
	if (pipeline) {
		if (optind != argc)
			return cli_usage_error("log", "-p takes no job id");
		rc = cli_open(&c, &copts);
		if (rc)
			return rc;
		rc = pipeline_logs(&c, pipeline, follow);
		client_close(&c);
		return rc;
	}
	if (optind + 1 != argc)
		return cli_usage_error("log", "wants one job id");
	if (cli_parse_id(argv[optind], &id) < 0)
		return cli_usage_error("log", "'%s' is not a job id", argv[optind]);
	rc = cli_open(&c, &copts);
	if (rc)
		return rc;
	rc = follow ? follow_log(&c, id) : whole_log(&c, id);
	client_close(&c);
	return rc;
}
