/*
 * cidre user: add and list the server's users (an administrator's token).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/cli.h"
#include "cmd/cmd.h"
#include "util/xalloc.h"

#define PASSWORD_MAX 1024

const char cmd_user_usage[] =
	"usage: cidre user add LOGIN [--admin] [--name NAME] [--email EMAIL]\n"
	"                            [--password-stdin]\n"
	"       cidre user list [--json]\n"
	"       cidre user passwd LOGIN [--current] [--password-stdin]\n"
	"       cidre user disable|enable LOGIN\n"
	"\n"
	"add:  make a user who logs in with LOGIN and a password (8 to 1024\n"
	"      bytes). The password is asked on the terminal, without echo,\n"
	"      twice; with --password-stdin it is the first line of stdin.\n"
	"list: the users: login, name, e-mail, whether administrator.\n"
	"passwd: set LOGIN's password (asked twice). A user changing their own\n"
	"      password gives --current: the current one is asked first (with\n"
	"      --password-stdin: the first line is the current one, the second\n"
	"      the new one). Every session of the user ends.\n"
	"disable: LOGIN can no longer log in, nor use their tokens; enable\n"
	"      undoes it.\n"
	"All but passwd --current need an administrator's token. Give users\n"
	"roles on projects with 'cidre project member'.\n"
	"\n"
	"options:\n"
	"      --admin            the user may do everything, on every project\n"
	"      --name NAME        the user's full name\n"
	"      --email EMAIL      the user's e-mail address\n"
	"      --password-stdin   read the password from stdin; ask nothing\n"
	"      --current          (passwd) give the current password too\n"
	"      --json             print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (e.g. the login is taken),\n"
	"2 usage error or the server cannot be reached.\n";

/* One line of f (without its newline) into sb; -1 when too long or none. */
static int read_line(FILE *f, struct strbuf *sb)
{
	int c;

	strbuf_reset(sb);
	while ((c = getc(f)) != EOF && c != '\n') {
		if (sb->len >= PASSWORD_MAX)
			return -1;
		strbuf_addch(sb, (char)c);
	}
	if (sb->len && sb->buf[sb->len - 1] == '\r')
		strbuf_setlen(sb, sb->len - 1);
	return c == EOF && !sb->len ? -1 : 0;
}

/* Ask on the terminal without echo. */
static int ask(const char *prompt, struct strbuf *sb)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+e");
	int rc;

	if (!tty)
		return -1;
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) < 0) {
		fclose(tty);
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	rc = read_line(tty, sb);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return rc;
}

static void wipe(struct strbuf *sb)
{
	if (sb->alloc)
		memset(sb->buf, 0, sb->alloc);
	strbuf_release(sb);
}

static int do_add(struct client *c, const char *login, int admin, const char *name,
		  const char *email, int from_stdin, int json)
{
	struct strbuf err = STRBUF_INIT, pw = STRBUF_INIT, again = STRBUF_INIT;
	json_t *body, *res = NULL;
	int rc;

	if (from_stdin) {
		if (read_line(stdin, &pw) < 0)
			return cli_usage_error("user", "no password on stdin (one line of at "
					       "most %d bytes)", PASSWORD_MAX);
	} else {
		if (ask("Password: ", &pw) < 0 || ask("Again: ", &again) < 0) {
			wipe(&pw);
			wipe(&again);
			return cli_usage_error("user", "cannot read a password from the "
					       "terminal: use --password-stdin");
		}
		if (strcmp(pw.buf, again.buf)) {
			wipe(&pw);
			wipe(&again);
			fprintf(stderr, "cidre: the passwords differ\n");
			return CLI_FAILED;
		}
	}
	body = json_pack("{s:s, s:s, s:b}", "login", login, "password", pw.buf, "admin", admin);
	if (name)
		json_object_set_new(body, "name", json_string(name));
	if (email)
		json_object_set_new(body, "email", json_string(email));
	rc = client_request(c, "POST", "/api/v1/users", body, &res, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else if (json)
		cli_print_json(res);
	else
		printf("user %s added%s\n", cli_str(res, "login", login),
		       admin ? " (administrator)" : "");
	json_decref(body);
	json_decref(res);
	wipe(&pw);
	wipe(&again);
	strbuf_release(&err);
	return rc;
}

/* PATCH /api/v1/users/LOGIN with body; prints done on success. */
static int patch_user(struct client *c, const char *login, json_t *body, const char *done)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	int rc;

	strbuf_addstr(&path, "/api/v1/users/");
	client_escape(&path, login, 0);
	rc = client_request(c, "PATCH", path.buf, body, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else
		printf("%s %s\n", login, done);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int do_passwd(struct client *c, const char *login, int current, int from_stdin)
{
	struct strbuf cur = STRBUF_INIT, pw = STRBUF_INIT, again = STRBUF_INIT;
	json_t *body = NULL;
	int rc = CLI_USAGE;

	if (from_stdin) {
		if ((current && read_line(stdin, &cur) < 0) || read_line(stdin, &pw) < 0) {
			cli_usage_error("user", "want %s on stdin (lines of at most %d bytes)",
					current ? "the current and the new password" :
					"the new password", PASSWORD_MAX);
			goto done;
		}
	} else {
		if ((current && ask("Current password: ", &cur) < 0) ||
		    ask("New password: ", &pw) < 0 || ask("Again: ", &again) < 0) {
			cli_usage_error("user", "cannot read a password from the terminal: use "
					"--password-stdin");
			goto done;
		}
		if (strcmp(pw.buf, again.buf)) {
			fprintf(stderr, "cidre: the passwords differ\n");
			rc = CLI_FAILED;
			goto done;
		}
	}
	body = json_pack("{s:s}", "password", pw.buf);
	if (current)
		json_object_set_new(body, "current_password", json_string(cur.buf));
	rc = patch_user(c, login, body, "has a new password");
done:
	json_decref(body);
	wipe(&cur);
	wipe(&pw);
	wipe(&again);
	return rc;
}

static int do_list(struct client *c, int json)
{
	struct cli_table t;
	json_t *res = NULL, *u;
	size_t i;
	int rc;

	if (!cli_list(c, "/api/v1/users", "user", json, NULL, &res, &rc))
		return rc;
	cli_table_head(&t, "llll", "LOGIN", "NAME", "EMAIL", "ADMIN", NULL);
	json_array_foreach(res, i, u) {
		const char *n = cli_str(u, "name", ""), *e = cli_str(u, "email", "");

		cli_table_add(&t, cli_str(u, "login", "?"));
		cli_table_add(&t, *n ? n : "-");
		cli_table_add(&t, *e ? e : "-");
		cli_table_add(&t, json_is_true(json_object_get(u, "admin")) ? "yes" : "no");
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	json_decref(res);
	return rc;
}

int cmd_user(int argc, char **argv)
{
	enum { OPT_ADMIN = 256, OPT_NAME, OPT_EMAIL, OPT_STDIN, OPT_JSON, OPT_CURRENT };
	static const struct option longopts[] = {
		{ "admin", no_argument, NULL, OPT_ADMIN },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "email", required_argument, NULL, OPT_EMAIL },
		{ "password-stdin", no_argument, NULL, OPT_STDIN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "current", no_argument, NULL, OPT_CURRENT },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts conn;
	struct client c = CLIENT_INIT;
	const char *sub, *login = NULL, *name = NULL, *email = NULL;
	int ch, rc, admin = 0, from_stdin = 0, json = 0, current = 0;

	memset(&conn, 0, sizeof(conn));
	if (argc < 2)
		return cli_usage_error("user", "wants add or list");
	sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "passwd") &&
	    strcmp(sub, "disable") && strcmp(sub, "enable"))
		return cli_usage_error("user", "unknown subcommand '%s' (add, list, passwd, "
				       "disable, enable)", sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &conn))
			continue;
		switch (ch) {
		case OPT_ADMIN:
			admin = 1;
			break;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_EMAIL:
			email = optarg;
			break;
		case OPT_STDIN:
			from_stdin = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_CURRENT:
			current = 1;
			break;
		default:
			return cli_bad_option("user", argv[optind - 1], longopts);
		}
	}
	if (strcmp(sub, "list")) {
		if (optind == argc)
			return cli_usage_error("user", "%s wants a login", sub);
		login = argv[optind++];
	}
	if (strcmp(sub, "add") && (admin || name || email))
		return cli_usage_error("user", "--admin, --name and --email go with add");
	if (strcmp(sub, "add") && strcmp(sub, "passwd") && from_stdin)
		return cli_usage_error("user", "--password-stdin goes with add and passwd");
	if (strcmp(sub, "passwd") && current)
		return cli_usage_error("user", "--current goes with passwd");
	if (optind < argc)
		return cli_usage_error("user", "unexpected argument '%s'", argv[optind]);
	rc = cli_open(&c, &conn);
	if (rc)
		return rc;
	if (!strcmp(sub, "add")) {
		rc = do_add(&c, login, admin, name, email, from_stdin, json);
	} else if (!strcmp(sub, "passwd")) {
		rc = do_passwd(&c, login, current, from_stdin);
	} else if (strcmp(sub, "list")) {
		json_t *body = json_pack("{s:b}", "disabled", !strcmp(sub, "disable"));

		rc = patch_user(&c, login, body, !strcmp(sub, "disable") ? "is disabled" :
				"is enabled");
		json_decref(body);
	} else {
		rc = do_list(&c, json);
	}
	client_close(&c);
	return rc;
}
