/*
 * Unit tests for src/git/mirror.c: mirrors, commit facts, changed files,
 * and checkouts into new and reused workspaces (real git repositories).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "git/mirror.h"
#include "git/object.h"
#include "git/wtstat.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[PATH_MAX];
static char sha1[41], sha2[41];

#define GIT "git -c user.name=t -c user.email=t@example.com"

static void read_sha(const char *cmd, char *out)
{
	struct strbuf c = STRBUF_INIT;
	FILE *f;

	strbuf_addf(&c, "cd '%s' && %s", root, cmd);
	f = popen(c.buf, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 41, f));
	pclose(f);
	strbuf_release(&c);
}

static int exists(const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int r;

	strbuf_addf(&p, "%s/%s", root, rel);
	r = lstat(p.buf, &st) == 0;
	strbuf_release(&p);
	return r;
}

static int setup(void **state)
{
	char made[PATH_MAX];

	if (test_tmpdir(made, sizeof(made), "cidre-t-mirror") || !realpath(made, root))
		return -1;
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	/* identity fixed here, whatever the caller exported */
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	test_sh(root, "git init -q -b main src && cd src && echo a >a && mkdir d && "
		"echo b >d/b && git add . && " GIT " commit -qm one");
	read_sha("git -C src rev-parse HEAD", sha1);
	test_sh(root, "cd src && git rm -q d/b && echo c >c && git add c && "
		GIT " commit -qm 'two: title' -m body");
	read_sha("git -C src rev-parse HEAD", sha2);
	return 0;
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static void test_mirror_facts(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, src = STRBUF_INIT;
	struct strvec changed = STRVEC_INIT, br = STRVEC_INIT;
	struct gitinfo gi;
	char sha[41];

	strbuf_addf(&m, "%s/m.git", root);
	strbuf_addf(&src, "%s/src", root);
	assert_int_equal(mirror_create(src.buf, m.buf, NULL, &err), 0);
	assert_int_equal(mirror_fetch(m.buf, &err), 0);
	assert_int_equal(mirror_resolve(m.buf, "main", sha, &err), 0);
	assert_string_equal(sha, sha2);
	assert_int_equal(mirror_resolve(m.buf, "nope", sha, &err), -1);
	assert_non_null(strstr(err.buf, "no commit named"));
	assert_int_equal(mirror_resolve(m.buf, "--upload-pack=x", sha, &err), -1);
	assert_true(mirror_has_commit(m.buf, sha1));
	assert_false(mirror_has_commit(m.buf, "0123456789012345678901234567890123456789"));
	assert_int_equal(mirror_commit(m.buf, sha2, &gi, &err), 0);
	assert_string_equal(gi.before_sha, sha1);
	assert_string_equal(gi.message, "two: title\n\nbody");
	assert_string_equal(gi.author, "t <t@example.com>");
	gitinfo_release(&gi);
	assert_int_equal(mirror_commit(m.buf, "refs/heads/main", &gi, &err), 0);
	assert_string_equal(gi.sha, sha2);
	gitinfo_release(&gi);
	assert_int_equal(mirror_commit(m.buf, "refs/heads/nope", &gi, &err), -1);
	{
		char *hb = mirror_head_branch(m.buf);

		assert_string_equal(hb, "main");
		free(hb);
	}
	assert_int_equal(mirror_changed(m.buf, sha1, sha2, &changed, &err), 0);
	assert_int_equal(changed.nr, 2);
	assert_string_equal(changed.v[0], "c");
	assert_string_equal(changed.v[1], "d/b");
	assert_int_equal(mirror_changed(m.buf, "0000000000000000000000000000000000000000", sha2,
					&changed, &err), 1);
	assert_int_equal(mirror_branches(m.buf, &br, &err), 0);
	assert_int_equal(br.nr, 2);
	assert_string_equal(br.v[0], "main");
	assert_string_equal(br.v[1], sha2);
	strvec_clear(&changed);
	strvec_clear(&br);
	strbuf_release(&m);
	strbuf_release(&src);
	strbuf_release(&err);
}

static void test_head_branch(void **state)
{
	struct strbuf p = STRBUF_INIT;
	char *hb;

	/* HEAD names master (git's default), only main was pushed */
	test_sh(root, "git init -q --bare hm.git && "
		"git --git-dir=hm.git symbolic-ref HEAD refs/heads/master && "
		"git -C src push -q ../hm.git main");
	strbuf_addf(&p, "%s/hm.git", root);
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "main");
	free(hb);
	/* the same with packed refs */
	test_sh(root, "git --git-dir=hm.git pack-refs --all");
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "main");
	free(hb);
	/* HEAD's own branch when it exists */
	test_sh(root, "git -C src push -q ../hm.git main:master");
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "master");
	free(hb);
	strbuf_release(&p);
}

static void test_checkout_new_and_reused(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, ws = STRBUF_INIT;
	char head[41];

	strbuf_addf(&m, "%s/m.git", root);
	strbuf_addf(&ws, "%s/ws", root);
	assert_int_equal(mirror_checkout(m.buf, sha1, "main", ws.buf, 1, &err), 0);
	assert_true(exists("ws/a") && exists("ws/d/b") && !exists("ws/c"));
	read_sha("git -C ws rev-parse HEAD", head);
	assert_string_equal(head, sha1);
	read_sha("git -C ws rev-parse main", head);
	assert_string_equal(head, sha1);
	/* what a job leaves behind: output, ignored files, a changed tracked file */
	test_sh(root, "cd ws && mkdir -p out && echo x >out/x && echo junk >a && "
		"echo out/ >.gitignore");
	assert_int_equal(mirror_checkout(m.buf, sha2, "main", ws.buf, 1, &err), 0);
	assert_true(exists("ws/a") && exists("ws/c"));
	assert_false(exists("ws/d/b"));
	assert_false(exists("ws/out"));
	assert_false(exists("ws/.gitignore"));
	test_sh(root, "cd ws && test \"$(cat a)\" = a && git diff --quiet HEAD && "
		"test -z \"$(git status --porcelain)\" && git log --oneline | grep -q two");
	read_sha("git -C ws rev-parse HEAD", head);
	assert_string_equal(head, sha2);
	/* the same commit again, after a job removed and changed tracked files */
	test_sh(root, "cd ws && rm a && echo changed >c && mkdir -p new && echo n >new/n && "
		"ln -s /etc/passwd link");
	assert_int_equal(mirror_checkout(m.buf, sha2, "main", ws.buf, 1, &err), 0);
	test_sh(root, "cd ws && test \"$(cat a)\" = a && test \"$(cat c)\" = c && "
		"test ! -e new && test ! -L link && test -z \"$(git status --porcelain)\"");
	assert_int_equal(mirror_checkout(m.buf, "not-a-sha", NULL, ws.buf, 1, &err), -1);
	/* without clean, a tree at the commit is left as it is */
	test_sh(root, "echo mine >ws/untracked");
	assert_int_equal(mirror_checkout(m.buf, sha2, NULL, ws.buf, 0, &err), 0);
	assert_true(exists("ws/untracked"));
	assert_int_equal(mirror_checkout(m.buf, sha1, NULL, ws.buf, 0, &err), 0);
	assert_true(exists("ws/d/b"));
	strbuf_release(&m);
	strbuf_release(&ws);
	strbuf_release(&err);
}

static ino_t ino_of(const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;

	strbuf_addf(&p, "%s/%s", root, rel);
	assert_int_equal(lstat(p.buf, &st), 0);
	strbuf_release(&p);
	return st.st_ino;
}

/*
 * Each case damages a clean reused tree the way a job could; the stat
 * check must see it and the next checkout must restore the commit.
 */
static const char *const damage[] = {
	"echo junk >a",                        /* modified tracked file */
	"rm d/b",                              /* deleted file */
	"echo new >new",                       /* untracked file */
	"echo o >d/o",                         /* untracked file in a tracked directory */
	"mkdir empty",                         /* empty untracked directory */
	"mkdir -p out/deep && echo o >out/deep/o",
	"echo 'a' >.gitignore && echo i >ignored.o",
	"chmod +x a",                          /* changed mode */
	"chmod -x x",
	"rm l && ln -s d l",                   /* symlink with another target */
	"rm l && echo a >l",                   /* symlink replaced by a file */
	"rm -r d && echo b >d",                /* directory replaced by a file */
	"mkfifo fifo",
	"mkdir -p sub/.git && echo x >sub/.git/HEAD",
	/* same size, same mtime: only ctime tells */
	"t=$(stat -c %y a) && echo b >a && touch -d \"$t\" a",
	"git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m moved",
	"echo n >n && git add n",               /* the index rewritten */
	"git update-index --chmod=+x a",
	"git status --porcelain >/dev/null; echo z >>a",
};

/*
 * racy.py PATH: claim PATH's current stat data in the index (checksum
 * rewritten) and make the index older than every file: all its entries
 * are then racily clean.
 */
static const char racy_py[] =
	"import hashlib, os, struct, sys\n"
	"d = bytearray(open('.git/index', 'rb').read())\n"
	"n = struct.unpack('>I', d[8:12])[0]; pos = 12\n"
	"for _ in range(n):\n"
	"    nl = struct.unpack('>H', d[pos + 60:pos + 62])[0] & 0xfff\n"
	"    if bytes(d[pos + 62:pos + 62 + nl]).decode() == sys.argv[1]:\n"
	"        st = os.lstat(sys.argv[1])\n"
	"        d[pos:pos + 16] = struct.pack('>IIII', st.st_ctime_ns // 10**9, st.st_ctime_ns % 10**9,\n"
	"                                      st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9)\n"
	"        d[pos + 20:pos + 24] = struct.pack('>I', st.st_ino & 0xffffffff)\n"
	"        d[pos + 36:pos + 40] = struct.pack('>I', st.st_size)\n"
	"    pos += (62 + nl + 8) & ~7\n"
	"d[-20:] = hashlib.sha1(bytes(d[:-20])).digest()\n"
	"open('.git/index', 'wb').write(d)\n"
	"os.utime('.git/index', (0, 0))\n";

static void test_checkout_skips_clean_tree(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, ws = STRBUF_INIT;
	char sha[41];
	ino_t ino;
	size_t i;

	test_sh(root, "git init -q -b main s3 && cd s3 && echo a >a && mkdir d && echo b >d/b && "
		"echo x >x && chmod +x x && ln -s a l && "
		/* long names: the path buffer grows (and moves) during the walk */
		"p=long; for i in 1 2 3 4 5 6 7 8; do p=$p/dir-with-a-rather-long-name-$i; done && "
		"mkdir -p $p && echo z >$p/z && git add . && " GIT " commit -qm s3 && "
		"git clone -q --mirror . ../s3.git");
	read_sha("git -C s3 rev-parse HEAD", sha);
	strbuf_addf(&m, "%s/s3.git", root);
	strbuf_addf(&ws, "%s/ws3", root);
	assert_int_equal(wtstat_clean(ws.buf, sha), 0);
	assert_int_equal(mirror_checkout(m.buf, sha, "main", ws.buf, 1, &err), 0);
	assert_int_equal(wtstat_clean(ws.buf, sha), 1);
	assert_int_equal(wtstat_clean(ws.buf, sha1), 0);
	/* git status may rewrite the index (stat data only): still clean */
	test_sh(root, "cd ws3 && git status --porcelain >/dev/null && git update-index --refresh");
	assert_int_equal(wtstat_clean(ws.buf, sha), 1);
	/* an untouched tree: no read-tree (it would write a new index) */
	ino = ino_of("ws3/.git/index");
	assert_int_equal(mirror_checkout(m.buf, sha, "other", ws.buf, 1, &err), 0);
	assert_int_equal(ino_of("ws3/.git/index"), ino);
	test_sh(root, "cd ws3 && test \"$(git rev-parse other)\" = %s", sha);
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		print_message("# damage: %s\n", damage[i]);
		test_sh(root, "cd ws3 && %s", damage[i]);
		assert_int_equal(wtstat_clean(ws.buf, sha), 0);
		assert_int_equal(mirror_checkout(m.buf, sha, "main", ws.buf, 1, &err), 0);
		test_sh(root, "cd ws3 && test \"$(git rev-parse HEAD)\" = %s && "
			"test -z \"$(git status --porcelain --ignored)\" && test \"$(cat a)\" = a && "
			"test -x x && test ! -x a && test \"$(readlink l)\" = a", sha);
		assert_int_equal(wtstat_clean(ws.buf, sha), 1);
	}
	/*
	 * Racy entries: an index not newer than its files. The check hashes
	 * them, so a same-size edit whose stat data the index also claims
	 * (written into the index here, as a refresh racing the edit would)
	 * is still seen.
	 */
	{
		struct strbuf py = STRBUF_INIT;
		FILE *f;

		strbuf_addf(&py, "%s/racy.py", root);
		f = fopen(py.buf, "w");
		assert_non_null(f);
		fputs(racy_py, f);
		assert_int_equal(fclose(f), 0);
		strbuf_release(&py);
	}
	test_sh(root, "cd ws3 && python3 ../racy.py a");
	assert_int_equal(wtstat_mark(ws.buf, sha), 0);
	assert_int_equal(wtstat_clean(ws.buf, sha), 1);   /* hashed: the same blob */
	test_sh(root, "cd ws3 && echo b >a && python3 ../racy.py a");
	assert_int_equal(wtstat_mark(ws.buf, sha), 0);
	assert_int_equal(wtstat_clean(ws.buf, sha), 0);   /* hashed: another blob */
	assert_int_equal(mirror_checkout(m.buf, sha, "main", ws.buf, 1, &err), 0);
	test_sh(root, "cd ws3 && test \"$(cat a)\" = a");
	assert_int_equal(wtstat_clean(ws.buf, sha), 1);
	/* a damaged index or marker is never trusted */
	test_sh(root, "cd ws3 && printf 'DIRC' >.git/index");
	assert_int_equal(wtstat_clean(ws.buf, sha), 0);
	assert_int_equal(mirror_checkout(m.buf, sha, "main", ws.buf, 1, &err), 0);
	assert_int_equal(wtstat_clean(ws.buf, sha), 1);
	test_sh(root, "cd ws3 && echo %s 0000000000000000000000000000000000000000 "
		">.git/cidre-checkout", sha);
	assert_int_equal(wtstat_clean(ws.buf, sha), 0);
	strbuf_release(&m);
	strbuf_release(&ws);
	strbuf_release(&err);
}

/* gitobj_commit gives what mirror_commit (git log) gives, or defers to it. */
static void same_facts(const char *repo, const char *rev)
{
	struct strbuf err = STRBUF_INIT;
	struct gitinfo a, b;

	print_message("# commit %s\n", rev);
	assert_int_equal(gitobj_commit(repo, rev, &a), 0);
	assert_int_equal(mirror_commit(repo, rev, &b, &err), 0);
	assert_string_equal(a.sha, b.sha);
	assert_string_equal(a.before_sha, b.before_sha);
	assert_string_equal(a.author, b.author);
	assert_string_equal(a.timestamp, b.timestamp);
	assert_string_equal(a.message, b.message);
	assert_string_equal(a.toplevel, b.toplevel);
	gitinfo_release(&a);
	gitinfo_release(&b);
	strbuf_release(&err);
}

static void test_object_reader(void **state)
{
	struct strbuf o = STRBUF_INIT;
	struct gitinfo gi;
	char c1[41], c2[41], c3[41], c4[41], c5[41], sha[41], type[8], *body;
	size_t len;

	strbuf_addf(&o, "%s/o.git", root);
	test_sh(root, "git init -q --bare o.git && git init -q -b main ow && cd ow && "
		"echo a >a && git add a && GIT_COMMITTER_DATE='1700000000 -0130' "
		GIT " commit -qm 'root: one line' && echo b >b && git add b && "
		"GIT_AUTHOR_NAME='Zoë  Q. Public' GIT_AUTHOR_EMAIL='z@example.com' "
		"GIT_COMMITTER_DATE='1700000100 +0545' " GIT " commit -q -m title -m '' -m 'body\n\n' && "
		"git checkout -q -b side HEAD~1 && echo s >s && git add s && " GIT " commit -qm side && "
		"git checkout -q main && " GIT " merge -q --no-edit side && "
		"git push -q ../o.git main side");
	read_sha("git -C ow rev-parse main~1~1", c1);
	read_sha("git -C ow rev-parse main~1", c2);
	read_sha("git -C ow rev-parse main", c3);
	same_facts(o.buf, c1);
	same_facts(o.buf, c2);
	same_facts(o.buf, c3);          /* a merge: the first parent */
	same_facts(o.buf, "refs/heads/main");
	same_facts(o.buf, "refs/heads/side");
	/* extra headers (a signature over several lines) and no message */
	test_sh(root, "cd ow && { printf 'tree %%s\\nparent %%s\\nauthor A <a@x> 1 +0000\\n"
		"committer C <c@x> 2 -0000\\ngpgsig -----BEGIN-----\\n line\\n -----END-----\\n\\n' "
		"$(git rev-parse main^{tree}) $(git rev-parse main); } | "
		"git --git-dir=../o.git hash-object -t commit -w --stdin >../c4");
	read_sha("cat c4", c4);
	same_facts(o.buf, c4);
	/* a message in another encoding: git re-encodes it; git is asked */
	test_sh(root, "cd ow && printf 'tree %%s\\nauthor A <a@x> 1 +0000\\ncommitter C <c@x> 2 +0000\\n"
		"encoding ISO-8859-1\\n\\ncaf\\351\\n' $(git rev-parse main^{tree}) | "
		"git --git-dir=../o.git hash-object -t commit -w --stdin >../c5");
	read_sha("cat c5", c5);
	assert_int_equal(gitobj_commit(o.buf, c5, &gi), 1);
	/* idents git writes but this reader leaves to git: far future, no '>' */
	test_sh(root, "cd ow && for id in 'C <c@x> 9223372036854775800 +0100' 'C <c@x 2 +0000' "
		"'C <c@x> 2 +00' 'C <c@x> -2 +0000'; do printf 'tree %%s\nauthor A <a@x> 1 +0000\n"
		"committer %%s\n\nodd\n' $(git rev-parse main^{tree}) \"$id\" | "
		"git --git-dir=../o.git hash-object -t commit -w --literally --stdin; done >../odd");
	{
		FILE *f;
		char line[64];
		int n = 0;

		strbuf_reset(&o);
		strbuf_addf(&o, "%s/odd", root);
		f = fopen(o.buf, "r");
		assert_non_null(f);
		strbuf_reset(&o);
		strbuf_addf(&o, "%s/o.git", root);
		while (fgets(line, sizeof(line), f)) {
			line[40] = '\0';
			assert_int_equal(gitobj_commit(o.buf, line, &gi), 1);
			n++;
		}
		fclose(f);
		assert_int_equal(n, 4);
	}
	/* not commits, missing, refs git must resolve */
	read_sha("git -C ow rev-parse main^{tree}", sha);
	assert_int_equal(gitobj_commit(o.buf, sha, &gi), 1);
	assert_int_equal(gitobj_read_loose(o.buf, sha, type, &body, &len, 1 << 20), 0);
	assert_string_equal(type, "tree");
	free(body);
	assert_int_equal(gitobj_read_loose(o.buf, sha, type, &body, &len, 10), -1);
	assert_int_equal(gitobj_commit(o.buf, "0123456789012345678901234567890123456789", &gi), 1);
	assert_int_equal(gitobj_commit(o.buf, "refs/heads/nope", &gi), 1);
	assert_int_equal(gitobj_commit(o.buf, "refs/heads/../../config", &gi), 1);
	assert_int_equal(gitobj_commit(o.buf, "main", &gi), 1);
	test_sh(root, "cd o.git && git symbolic-ref refs/heads/alias refs/heads/main");
	assert_int_equal(gitobj_resolve(o.buf, "refs/heads/alias", sha), 1);
	/* a replaced commit, a graft, a shallow history: git log knows better */
	same_facts(o.buf, c2);
	test_sh(root, "cd o.git && git replace %s %s", c2, c1);
	assert_int_equal(gitobj_commit(o.buf, c2, &gi), 1);
	test_sh(root, "cd o.git && git replace -d %s && echo %s >shallow", c2, c2);
	assert_int_equal(gitobj_commit(o.buf, c2, &gi), 1);
	test_sh(root, "cd o.git && rm shallow && mkdir -p info && echo %s >info/grafts", c2);
	assert_int_equal(gitobj_commit(o.buf, c2, &gi), 1);
	test_sh(root, "cd o.git && rm info/grafts");
	same_facts(o.buf, c2);
	/* a damaged object (an unreachable one: repack below skips it) */
	test_sh(root, "cd o.git && f=objects/$(echo %s | cut -c1-2)/$(echo %s | cut -c3-) && "
		"chmod u+w $f && head -c 20 $f >t && mv t $f", c4, c4);
	assert_int_equal(gitobj_read_loose(o.buf, c4, type, &body, &len, 1 << 20), -1);
	assert_int_equal(gitobj_commit(o.buf, c4, &gi), 1);
	/* packed: refs in packed-refs, objects in a pack; git is asked for those */
	test_sh(root, "cd o.git && git pack-refs --all && git repack -q -a -d && "
		"git prune-packed && test ! -e refs/heads/main");
	assert_int_equal(gitobj_resolve(o.buf, "refs/heads/main", sha), 0);
	assert_string_equal(sha, c3);
	strbuf_release(&o);
}

/* The output of cmd (run in root), whole. */
static void read_out(const char *cmd, struct strbuf *out)
{
	struct strbuf c = STRBUF_INIT;
	char buf[4096];
	size_t n;
	FILE *f;

	strbuf_addf(&c, "cd '%s' && %s", root, cmd);
	f = popen(c.buf, "r");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(out, buf, n);
	assert_int_equal(pclose(f), 0);
	strbuf_release(&c);
}

/* Packed objects: the index lookup, whole entries read, deltas left to git. */
static void test_object_packs(void **state)
{
	struct strbuf o = STRBUF_INIT, want = STRBUF_INIT, c = STRBUF_INIT;
	struct gitinfo gi;
	char c1[41], c2[41], blob[41], sha[41], type[8], *body, *dir;
	size_t len;
	int deltas = 0, wholes = 0;
	FILE *f;
	char line[256];

	strbuf_addf(&o, "%s/p.git", root);
	test_sh(root, "git init -q --bare p.git && git init -q -b main pw && cd pw && "
		"seq 1 3000 >big && git add big && " GIT " commit -qm one && "
		"seq 1 3001 >big && echo x >small && git add big small && " GIT " commit -qm two && "
		"git push -q ../p.git main && cd ../p.git && git repack -q -a -d -f && "
		"git prune-packed && test -z \"$(find objects -type f -path 'objects/?""?/*')\"");
	read_sha("git -C pw rev-parse main~1", c1);
	read_sha("git -C pw rev-parse main", c2);
	read_sha("git -C pw rev-parse main:small", blob);
	/* not loose any more: what git log says, now from the pack */
	same_facts(o.buf, c1);
	same_facts(o.buf, c2);
	same_facts(o.buf, "refs/heads/main");
	assert_int_equal(gitobj_has(o.buf, c1), 1);
	assert_int_equal(gitobj_has(o.buf, c2), 1);
	assert_int_equal(gitobj_has(o.buf, "0123456789012345678901234567890123456789"), 0);
	assert_int_equal(gitobj_has(o.buf, "ffffffffffffffffffffffffffffffffffffffff"), 0);
	assert_int_equal(gitobj_has(o.buf, "0000000000000000000000000000000000000000"), 0);
	assert_int_equal(gitobj_has(o.buf, "main"), 0);
	assert_int_equal(gitobj_read(o.buf, blob, type, &body, &len, 1 << 20), 0);
	assert_string_equal(type, "blob");
	assert_int_equal(len, 2);
	assert_string_equal(body, "x\n");
	free(body);
	assert_int_equal(gitobj_read(o.buf, blob, type, &body, &len, 1), -1);
	/* every object of the pack: the same bytes as git's, or a delta left to git */
	read_out("git --git-dir=p.git verify-pack -v p.git/objects/pack/*.idx 2>/dev/null | "
		 "awk 'length($1) == 40 { print $1, NF }' >objs && wc -l <objs", &c);
	strbuf_reset(&c);
	strbuf_addf(&c, "%s/objs", root);
	f = fopen(c.buf, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		int nf = atoi(line + 41);
		int r;

		line[40] = '\0';
		r = gitobj_read(o.buf, line, type, &body, &len, 1 << 20);
		assert_int_equal(gitobj_has(o.buf, line), 1);
		if (nf > 5) {               /* verify-pack's depth and base: a delta */
			assert_int_equal(r, 1);
			deltas++;
			continue;
		}
		assert_int_equal(r, 0);
		strbuf_reset(&want);
		strbuf_reset(&c);
		strbuf_addf(&c, "git --git-dir=p.git cat-file %s %s", type, line);
		read_out(c.buf, &want);
		assert_int_equal(want.len, len);
		assert_memory_equal(want.buf, body, len);
		free(body);
		wholes++;
	}
	fclose(f);
	assert_true(deltas > 0);
	assert_true(wholes > 4);
	/* a damaged index: not known, so the caller fetches */
	test_sh(root, "cd p.git/objects/pack && for i in *.idx; do chmod u+w $i && "
		"head -c 1100 $i >t && mv t $i; done");
	assert_int_equal(gitobj_has(o.buf, c1), 0);
	assert_int_equal(gitobj_commit(o.buf, c1, &gi), 1);
	/* a source repository on this machine, bare or not; nothing else */
	dir = gitobj_local_gitdir(o.buf);
	assert_string_equal(dir, o.buf);
	free(dir);
	strbuf_reset(&c);
	strbuf_addf(&c, "file://%s", o.buf);
	dir = gitobj_local_gitdir(c.buf);
	assert_string_equal(dir, o.buf);
	free(dir);
	strbuf_reset(&c);
	strbuf_addf(&c, "%s/pw", root);
	dir = gitobj_local_gitdir(c.buf);
	assert_non_null(dir);
	assert_int_equal(gitobj_resolve(dir, "refs/heads/main", sha), 0);
	assert_string_equal(sha, c2);
	free(dir);
	assert_null(gitobj_local_gitdir("https://example.invalid/x.git"));
	assert_null(gitobj_local_gitdir("p.git"));
	strbuf_reset(&c);
	strbuf_addf(&c, "%s/nope", root);
	assert_null(gitobj_local_gitdir(c.buf));
	strbuf_release(&o);
	strbuf_release(&want);
	strbuf_release(&c);
}

/* A tree too large to be rewritten whole is cleaned by git instead. */
static void test_checkout_large_reused(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, ws = STRBUF_INIT;
	char sha[41];

	test_sh(root, "git init -q -b main big && cd big && mkdir -p d && "
		"for i in $(seq 1 1200); do echo $i >d/file-with-a-longish-name-$i; done && "
		"git add . && " GIT " commit -qm big && git clone -q --mirror . ../big.git");
	read_sha("git -C big rev-parse HEAD", sha);
	strbuf_addf(&m, "%s/big.git", root);
	strbuf_addf(&ws, "%s/bigws", root);
	assert_int_equal(mirror_checkout(m.buf, sha, NULL, ws.buf, 1, &err), 0);
	test_sh(root, "test \"$(wc -c <bigws/.git/index)\" -gt 65536 && "
		"echo junk >bigws/out.o && echo x >bigws/d/file-with-a-longish-name-7 && "
		"rm bigws/d/file-with-a-longish-name-9");
	assert_int_equal(mirror_checkout(m.buf, sha, NULL, ws.buf, 1, &err), 0);
	test_sh(root, "cd bigws && test ! -e out.o && test \"$(cat d/file-with-a-longish-name-7)\" = 7 && "
		"test -f d/file-with-a-longish-name-9 && test -z \"$(git status --porcelain)\"");
	strbuf_release(&m);
	strbuf_release(&ws);
	strbuf_release(&err);
}

/* A left clone's git is known by its whole command line, and only so. */
static void test_create_cmdline(void **state)
{
	static const char ok[] = "git\0clone\0--mirror\0--quiet\0--\0file:///r.git\0/d/x.git.cloning";
	static const char other_dir[] = "git\0clone\0--mirror\0--quiet\0--\0u\0/d/y.git.cloning";
	static const char more[] = "git\0clone\0--mirror\0--quiet\0--\0u\0/d/x.git.cloning\0x";
	static const char fetch[] = "git\0fetch\0--mirror\0--quiet\0--\0u\0/d/x.git.cloning";
	static const char short_[] = "git\0clone\0--mirror\0--quiet\0--\0/d/x.git.cloning";
	const char *dir = "/d/x.git.cloning";

	(void)state;
	assert_true(mirror_create_cmdline(ok, sizeof(ok), dir));
	assert_false(mirror_create_cmdline(ok, sizeof(ok) - 1, dir));  /* no final NUL */
	assert_false(mirror_create_cmdline(other_dir, sizeof(other_dir), dir));
	assert_false(mirror_create_cmdline(more, sizeof(more), dir));
	assert_false(mirror_create_cmdline(fetch, sizeof(fetch), dir));
	assert_false(mirror_create_cmdline(short_, sizeof(short_), dir));
	assert_false(mirror_create_cmdline("", 0, dir));
	assert_false(mirror_create_cmdline("git", 4, dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_facts),
		cmocka_unit_test(test_head_branch),
		cmocka_unit_test(test_checkout_new_and_reused),
		cmocka_unit_test(test_checkout_large_reused),
		cmocka_unit_test(test_checkout_skips_clean_tree),
		cmocka_unit_test(test_object_reader),
		cmocka_unit_test(test_object_packs),
		cmocka_unit_test(test_create_cmdline),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
