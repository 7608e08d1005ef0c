/*
 * cidre image add|ls|rm|build: the image store of the sandbox executor.
 * See docs/images.md.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "exec/copy.h"
#include "exec/image.h"
#include "exec/oci.h"
#include "exec/proc.h"
#include "exec/spawn.h"
#include "util/strbuf.h"
#include "util/strvec.h"
#include "util/xalloc.h"

const char cmd_image_usage[] =
	"usage: cidre image [--store DIR | --data DIR] COMMAND ...\n"
	"\n"
	"Manage the root filesystems jobs of the sandbox executor run in.\n"
	"\n"
	"commands:\n"
	"  add NAME PATH|TARBALL|-\n"
	"                          register a directory, or check and unpack a\n"
	"                          tarball (.tar, .tar.gz, .tar.xz, .tar.zst),\n"
	"                          a container image (docker save, an OCI\n"
	"                          archive or layout: NAME picks one of several);\n"
	"                          - reads the tarball from standard input\n"
	"  pull NAME...            pull images from their registries (node:20,\n"
	"                          registry.example.com/team/app:1.4), for this\n"
	"                          machine's platform, and register them\n"
	"  ls                      list images: size, kind, jobs that used them\n"
	"  rm NAME...              unregister (an unpacked image is set aside,\n"
	"                          removed a day later: jobs may still run in it)\n"
	"  prune                   remove now the unpacked images no name uses\n"
	"  build NAME --debootstrap SUITE [--packages a,b,c] [--mirror URL]\n"
	"        [--keyring FILE]  make a Debian image with debootstrap\n"
	"                          --variant=minbase from this machine's mirror\n"
	"                          (or URL), its Release signed by Debian's\n"
	"                          keys (or one of FILE's)\n"
	"\n"
	"options:\n"
	"  --store DIR   the image store (default: $CIDRE_IMAGES, else\n"
	"                $XDG_DATA_HOME/cidre/images, else ~/.local/share/cidre/images)\n"
	"  --data DIR    the store of the server whose data directory is DIR\n"
	"                (DIR/images)\n";

static int image_ls(const char *store)
{
	struct image_info *v;
	size_t nr, i, w = 20;
	struct strbuf err = STRBUF_INIT;

	if (image_list(store, &v, &nr, &err) < 0) {
		fprintf(stderr, "cidre image ls: %s\n", err.buf);
		strbuf_release(&err);
		return 1;
	}
	/* the name column as wide as the longest name, 20 to 60 */
	for (i = 0; i < nr; i++)
		if (strlen(v[i].name) > w)
			w = strlen(v[i].name) > 60 ? 60 : strlen(v[i].name);
	printf("%-*s %-14s %10s %5s  %s\n", (int)w, "NAME", "KIND", "SIZE", "JOBS",
	       "ROOT / LAST JOB");
	for (i = 0; i < nr; i++) {
		printf("%-*s %-14s %9.1fM %5lld  %s%s\n", (int)w, v[i].name,
		       v[i].kind ? v[i].kind : "?", v[i].size / 1e6, v[i].uses,
		       v[i].root, v[i].ok ? "" : " (MISSING)");
		if (v[i].from)
			printf("%-*s %-14s %10s %5s  image: %s\n", (int)w, "", "", "",
			       "", v[i].from);
		if (v[i].last_use)
			printf("%-*s %-14s %10s %5s  last: %s\n", (int)w, "", "", "", "",
			       v[i].last_use);
	}
	image_info_release(v, nr);
	strbuf_release(&err);
	return 0;
}

/*
 * The Debian mirror of the apt sources here: the first URL whose path
 * ends in /debian, else the first one at all (not a security mirror),
 * or NULL.
 */
static char *apt_mirror(void)
{
	static const char *const one_line = "/etc/apt/sources.list";
	struct strbuf sb = STRBUF_INIT;
	char *found = NULL, *first = NULL;
	DIR *d;
	struct dirent *de;

	if (strbuf_read_file(&sb, one_line, 1 << 20) < 0)
		strbuf_reset(&sb);
	d = opendir("/etc/apt/sources.list.d");
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char *p;

		if (!(l > 5 && !strcmp(de->d_name + l - 5, ".list")) &&
		    !(l > 8 && !strcmp(de->d_name + l - 8, ".sources")))
			continue;
		p = xasprintf("/etc/apt/sources.list.d/%s", de->d_name);
		strbuf_addch(&sb, '\n');
		if (strbuf_read_file(&sb, p, 1 << 20) < 0)
			errno = 0;
		free(p);
	}
	if (d)
		closedir(d);
	{
		char *line = sb.buf, *nl;

		for (; line && *line && !found; line = nl ? nl + 1 : NULL) {
			char *url = NULL;

			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			line += strspn(line, " \t");
			if (!strncmp(line, "deb ", 4)) {
				url = line + 4;
				url += strspn(url, " \t");
				if (*url == '[') { /* options */
					url = strchr(url, ']');
					url = url ? url + 1 + strspn(url + 1, " \t") : NULL;
				}
			} else if (!strncmp(line, "URIs:", 5)) {
				url = line + 5 + strspn(line + 5, " \t");
			}
			if (url && (!strncmp(url, "http://", 7) ||
				    !strncmp(url, "https://", 8) ||
				    !strncmp(url, "file:/", 6)) &&
			    !strstr(url, "security")) {
				char *u = xstrndup(url, strcspn(url, " \t"));
				size_t l = strlen(u);

				while (l && u[l - 1] == '/')
					u[--l] = '\0';
				if (l >= 7 && !strcmp(u + l - 7, "/debian"))
					found = u;
				else if (!first)
					first = u;
				else
					free(u);
			}
		}
	}
	strbuf_release(&sb);
	if (found) {
		free(first);
		return found;
	}
	return first;
}

/*
 * A mirror URL debootstrap can take: http, https or file, at most
 * 4096 bytes, with no space, control character or quote (it goes
 * into debootstrap's own shell code and apt's sources.list).
 */
static int mirror_ok(const char *url)
{
	const char *p;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
	    strncmp(url, "file:/", 6))
		return 0;
	if (strlen(url) > 4096)
		return 0;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' ||
		    *p == '\'' || *p == '\\' || *p == '`' || *p == '$')
			return 0;
	return 1;
}

/*
 * Run debootstrap with our stderr as its stdout and stderr: its notes
 * ("I: Retrieving ...") show as it goes, for the half minute or more
 * it takes, and its errors are said where they happen. A ^C (the
 * terminal's SIGINT reaches the whole process group) stops debootstrap,
 * not us: the caller then removes what it left. 0 and *status (as
 * waitpid gives it), or -1 when it could not start.
 */
static int run_debootstrap(char **av, int *status, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct sigaction ign, old;
	sigset_t def;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old);
	rc = posix_spawnp(&pid, av[0], &fa, &at, av, environ);
	if (rc == 0)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGINT, &old, NULL);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		strbuf_addf(err, "%s: %s", av[0], strerror(rc));
		return -1;
	}
	return 0;
}

static int image_build(const char *store, int argc, char **argv)
{
	enum { OPT_DEBOOTSTRAP = 256, OPT_PACKAGES, OPT_MIRROR, OPT_KEYRING };
	static const struct option longopts[] = {
		{ "debootstrap", required_argument, NULL, OPT_DEBOOTSTRAP },
		{ "packages", required_argument, NULL, OPT_PACKAGES },
		{ "mirror", required_argument, NULL, OPT_MIRROR },
		{ "keyring", required_argument, NULL, OPT_KEYRING },
		{ NULL, 0, NULL, 0 },
	};
	const char *suite = NULL, *packages = NULL, *name, *keyring = NULL;
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;
	struct strvec av = STRVEC_INIT;
	char *mirror = NULL, *dir = NULL, *tmp = NULL, *key = NULL;
	char *work = NULL;
	int c, status = -1, ret = 1;
	struct stat st;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_DEBOOTSTRAP)
			suite = optarg;
		else if (c == OPT_PACKAGES)
			packages = optarg;
		else if (c == OPT_MIRROR) {
			free(mirror);
			mirror = xstrdup(optarg);
		} else if (c == OPT_KEYRING) {
			keyring = optarg;
		} else {
			free(mirror);
			return 2;
		}
	}
	if (optind + 1 != argc || !suite) {
		fprintf(stderr, "usage: cidre image build NAME --debootstrap SUITE "
			"[--packages a,b,c] [--mirror URL] [--keyring FILE]\n");
		free(mirror);
		return 2;
	}
	name = argv[optind];
	if (!image_name_ok(name) || strspn(suite, "abcdefghijklmnopqrstuvwxyz-") !=
				    strlen(suite) ||
	    (packages && strspn(packages, "abcdefghijklmnopqrstuvwxyz0123456789.+-,") !=
			 strlen(packages))) {
		fprintf(stderr, "cidre image build: bad image name, suite or "
			"package list\n");
		free(mirror);
		return 2;
	}
	if (mirror && !mirror_ok(mirror)) {
		fprintf(stderr, "cidre image build: --mirror wants an http://, "
			"https:// or file:/ URL without spaces or quotes\n");
		free(mirror);
		return 2;
	}
	if (keyring) {
		/* debootstrap runs gpgv on it, from another directory */
		key = realpath(keyring, NULL);
		if (!key || stat(key, &st) < 0 || !S_ISREG(st.st_mode) ||
		    access(key, R_OK) < 0 ||
		    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789/._+-") != strlen(key)) {
			fprintf(stderr, "cidre image build: --keyring %s: %s\n", keyring,
				!key ? strerror(errno) : "not a readable file with a "
				"plain name");
			free(key);
			free(mirror);
			return 2;
		}
	}
	if (!mirror)
		mirror = apt_mirror();
	if (!mirror) {
		fprintf(stderr, "cidre image build: no Debian mirror found in "
			"/etc/apt/sources.list or /etc/apt/sources.list.d "
			"(--mirror URL names one)\n");
		goto done;
	}
	{
		char *f = image_name_file(name);

		dir = xasprintf("%s/built/%s", store, f);
		/* debootstrap makes setuid files: in a directory only we
		   can enter until image_tree_check() cleared them */
		work = xasprintf("%s/built/.tmp-%s-%ld", store, f, (long)getpid());
		tmp = xasprintf("%s/root", work);
		free(f);
	}
	if (copy_rmtree(work, &err) < 0 || copy_mkdirs(work, &err) < 0 ||
	    chmod(work, 0700) < 0 || mkdir(tmp, 0755) < 0) {
		fprintf(stderr, "cidre image build: %s\n",
			err.len ? err.buf : strerror(errno));
		goto done;
	}
	strvec_push(&av, "debootstrap");
	strvec_push(&av, "--variant=minbase");
	if (packages)
		strvec_pushf(&av, "--include=%s", packages);
	if (key)
		strvec_pushf(&av, "--keyring=%s", key);
	strvec_push(&av, suite);
	strvec_push(&av, tmp);
	strvec_push(&av, mirror);
	fprintf(stderr, "debootstrap --variant=minbase %s from %s ...\n", suite, mirror);
	fflush(stderr);
	if (run_debootstrap(av.v, &status, &err) < 0) {
		fprintf(stderr, "cidre image build: cannot run debootstrap: %s\n", err.buf);
		goto done;
	}
	if (status) {
		int intr = (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) ||
			   (WIFEXITED(status) && WEXITSTATUS(status) == 130);

		fprintf(stderr, "cidre image build: debootstrap failed (%s %d)%s\n",
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			intr ? ": interrupted, nothing kept" : "");
		if (intr)
			ret = 130;
		goto done;
	}
	/* no .deb caches or package lists in an image */
	{
		const char *caches[] = { "var/cache/apt/archives", "var/lib/apt/lists" };
		size_t i;

		for (i = 0; i < 2; i++) {
			char *p = xasprintf("%s/%s", tmp, caches[i]);
			DIR *d = opendir(p);
			struct dirent *de;

			while (d && (de = readdir(d))) {
				size_t l = strlen(de->d_name);

				if ((l > 4 && !strcmp(de->d_name + l - 4, ".deb")) ||
				    (i == 1 && strcmp(de->d_name, ".") &&
				     strcmp(de->d_name, "..") && strcmp(de->d_name, "partial") &&
				     strcmp(de->d_name, "lock"))) {
					char *f = xasprintf("%s/%s", p, de->d_name);

					unlink(f);
					free(f);
				}
			}
			if (d)
				closedir(d);
			free(p);
		}
	}
	strbuf_reset(&err);
	if (image_tree_check(tmp, &err) < 0) {
		fprintf(stderr, "cidre image build: %s\n", err.buf);
		goto done;
	}
	if (copy_rmtree(dir, &err) < 0 || rename(tmp, dir) < 0) {
		fprintf(stderr, "cidre image build: cannot move it to %s: %s\n", dir,
			err.len ? err.buf : strerror(errno));
		goto done;
	}
	if (image_add(store, name, dir, &msg, &err) < 0) {
		fprintf(stderr, "cidre image build: %s\n", err.buf);
		goto done;
	}
	printf("%s\n", msg.buf);
	ret = 0;
done:
	if (work) {
		strbuf_reset(&err);
		if (copy_rmtree(work, &err) < 0)
			fprintf(stderr, "cidre image build: %s\n", err.buf);
	}
	free(mirror);
	free(dir);
	free(tmp);
	free(work);
	free(key);
	strvec_clear(&av);
	strbuf_release(&err);
	strbuf_release(&msg);
	return ret;
}

int (*cmd_image_pull)(const char *store, int argc, char **argv);

int cmd_image(int argc, char **argv)
{
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;
	char *store = NULL;
	const char *sub;
	int i = 1, ret = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(cmd_image_usage, stdout);
			return 0;
		}
		if (i + 1 < argc && !strcmp(argv[i], "--store")) {
			free(store);
			store = xstrdup(argv[i + 1]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--data")) {
			free(store);
			store = xasprintf("%s/images", argv[i + 1]);
		} else {
			fprintf(stderr, "cidre image: unknown option %s\n", argv[i]);
			free(store);
			return 2;
		}
		i += 2;
	}
	if (i >= argc) {
		fputs(cmd_image_usage, stderr);
		free(store);
		return 2;
	}
	if (!store)
		store = image_default_store();
	store = image_store_absolute(store);
	oci_progress = stderr;
	sub = argv[i];
	if (!strcmp(sub, "add")) {
		if (argc - i != 3) {
			fprintf(stderr, "usage: cidre image add NAME PATH|TARBALL|-\n");
			ret = 2;
		} else if (image_add(store, argv[i + 1], argv[i + 2], &msg, &err) < 0) {
			fprintf(stderr, "cidre image add: %s\n", err.buf);
		} else {
			printf("%s\n", msg.buf);
			ret = 0;
		}
	} else if (!strcmp(sub, "ls") || !strcmp(sub, "list")) {
		ret = image_ls(store);
	} else if (!strcmp(sub, "rm")) {
		int k;

		ret = argc - i < 2 ? 2 : 0;
		if (ret)
			fprintf(stderr, "usage: cidre image rm NAME...\n");
		for (k = i + 1; k < argc; k++) {
			strbuf_reset(&err);
			if (image_rm(store, argv[k], &err) < 0) {
				fprintf(stderr, "cidre image rm: %s\n", err.buf);
				ret = 1;
			}
		}
	} else if (!strcmp(sub, "prune")) {
		struct image_sweep_result res = { 0, 0, 0, 0 };

		if (argc - i != 1) {
			fprintf(stderr, "usage: cidre image prune\n");
			ret = 2;
		} else if (image_prune(store, &res, &err) < 0) {
			fprintf(stderr, "cidre image prune: %s\n", err.buf);
		} else {
			printf("removed %lld root%s no image uses (%.1f MB)\n", res.removed,
			       res.removed == 1 ? "" : "s", res.bytes / 1e6);
			if (res.layers)
				printf("removed %lld pulled layer%s no image uses "
				       "(%.1f MB)\n", res.layers,
				       res.layers == 1 ? "" : "s", res.layer_bytes / 1e6);
			ret = 0;
		}
	} else if (!strcmp(sub, "build")) {
		ret = image_build(store, argc - i, argv + i);
	} else if (!strcmp(sub, "pull")) {
		if (!cmd_image_pull) {
			/* libcurl's: cidre-client has it */
			spawn_exec_sibling("cidre-client", argv - 1, &err);
			fprintf(stderr, "cidre image pull: %s\n", err.buf);
		} else {
			ret = cmd_image_pull(store, argc - i, argv + i);
		}
	} else {
		fprintf(stderr, "cidre image: unknown command '%s' (add, pull, ls, "
			"rm, prune, build)\n", sub);
		ret = 2;
	}
	free(store);
	strbuf_release(&err);
	strbuf_release(&msg);
	return ret;
}
