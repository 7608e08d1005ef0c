#ifndef CIDRE_SANDBOX_H
#define CIDRE_SANDBOX_H

/*
 * The sandbox executor's namespace side: the bubblewrap command line that
 * runs a job with an image as its root filesystem (read-only), the
 * workspace read-write at the project dir, a private /tmp, a minimal
 * /dev, /proc of its own pid namespace, no network but loopback unless
 * allowed, every capability dropped, as an unprivileged uid. Limits and
 * accounting are the cgroup layer's (proc_run with proc_limits). See
 * docs/internals/sandbox.md.
 */

#include <sys/types.h>

#include "util/strbuf.h"
#include "util/strvec.h"

/* Where a job's workspace appears inside the sandbox: /builds/NAME. */
#define SANDBOX_BUILDS_DIR "/builds"
/* The uid and gid a sandboxed job runs as by default (nobody). */
#define SANDBOX_DEFAULT_ID 65534
/* bwrap's --info-fd in sandbox_argv (proc_spec.wrap_info_fd). */
#define SANDBOX_INFO_FD 3
/* bwrap's --block-fd in sandbox_argv (proc_spec.wrap_block_fd); the
   trampoline's socket, where the job comes from, in sandbox_init_argv. */
#define SANDBOX_BLOCK_FD 4
/* Where the trampoline's executable (ours) is given to bwrap. */
#define SANDBOX_EXE_FD 5
/* The hidden command of cidre that is the trampoline. */
#define SANDBOX_INIT_CMD "sandbox-init"
/* Limits of what the trampoline takes: bytes, strings (argv + env). */
#define SANDBOX_JOB_MAX (4 << 20)
#define SANDBOX_JOB_STRINGS 65536

struct sandbox_opts {
	const char *bwrap;        /* absolute path of bwrap */
	const char *root;         /* the image's root directory (absolute) */
	const char *workdir;      /* the job's workspace on this host */
	const char *project_dir;  /* where it appears inside (absolute) */
	int network;              /* 1: share this host's network (or the
				     services' one it is started in) */
	long uid, gid;            /* inside the sandbox */
	const char *hosts;        /* a file bound at /etc/hosts, or NULL */
};

/*
 * Append the argv that runs a command inside the sandbox to argv (the
 * command itself follows it). bwrap writes its info (the sandbox's
 * pids, namespaces) to fd SANDBOX_INFO_FD and waits, set up, for a byte
 * on fd SANDBOX_BLOCK_FD before it runs the command; the caller must
 * give it both (proc_spec.wrap_info_fd, wrap_block_fd). Reads the top level of o->root (each entry
 * is bound read-only on an otherwise empty, read-only root). Returns 0,
 * or -1 with the reason in err (root not a directory, a bad path).
 */
int sandbox_argv(const struct sandbox_opts *o, struct strvec *argv,
		 struct strbuf *err);

/*
 * The trampoline (docs/internals/sandbox.md, "The trampoline"): a
 * sandbox prestarted with this command line waits, set up, for its
 * job's argv, environment and working directory on SANDBOX_BLOCK_FD,
 * then execs the job; nothing of the job is fixed when it starts.
 *
 * sandbox_init_argv: from a sandbox_argv command line, the one that
 * runs the trampoline instead: without --block-fd, ending with
 * "-- /proc/self/fd/SANDBOX_EXE_FD sandbox-init". The caller gives bwrap
 * sandbox_init_exe() at SANDBOX_EXE_FD and a socket at SANDBOX_BLOCK_FD.
 */
void sandbox_init_argv(char *const *wrap, struct strvec *out);

/*
 * Our own executable, opened once (O_PATH, close-on-exec), when it can
 * be the trampoline in any image: it is linked statically (a sanitizer
 * build is not, and would need this host's libraries). -1 otherwise.
 */
int sandbox_init_exe(void);

/*
 * The message a trampoline reads: "CSJ1", the payload's length (4 bytes,
 * little-endian), then NUL-terminated strings: cwd, argc in decimal,
 * argv[0..argc), then every environment entry. Appends it to out.
 * 0, or -1 with the reason in err (a limit passed, a relative path).
 */
int sandbox_job_encode(struct strbuf *out, const char *cwd, char *const *argv,
		       char *const *env, struct strbuf *err);

struct sandbox_job {
	const char *cwd;
	char **argv;              /* NULL-terminated, into the payload */
	char **env;               /* NULL-terminated, into the payload */
};

/*
 * Read a payload of len bytes (the bytes after the header) into job;
 * its strings stay in payload. 0, or -1 with the reason in err.
 * sandbox_job_release frees the arrays (not the payload).
 */
int sandbox_job_decode(char *payload, size_t len, struct sandbox_job *job,
		       struct strbuf *err);
void sandbox_job_release(struct sandbox_job *job);

/*
 * Read one whole message (header and payload) from fd and decode it
 * into job; *payload holds its strings (the caller frees it and
 * releases job). 0, or -1 with the reason in err: EOF before a whole
 * message, a wrong header, a limit passed, a malformed payload.
 */
int sandbox_job_read(int fd, char **payload, struct sandbox_job *job,
		     struct strbuf *err);
/*
 * The environment a job gets: its own, with what bwrap added to ours
 * (PWD) applied as setenv() would (a new array; NULL: out of memory).
 */
char **sandbox_job_env(char **job_env);
/* "cidre sandbox-init: " + err + newline on stderr (the job's log). */
void sandbox_init_fail(const struct strbuf *err);

/*
 * The trampoline itself (cidre sandbox-init): read the job from
 * SANDBOX_BLOCK_FD, change to its directory, close every descriptor
 * but 0..2, exec it. Returns only on failure (the reason on stderr,
 * which is the job's output), with the exit status to use (127).
 */
int sandbox_init_main(void);

/*
 * The shell a job runs with inside root: "/bin/bash" when the image has
 * it, else "/bin/sh". Symbolic links are resolved inside root (never on
 * this host). NULL, with the reason in err, when root has neither.
 */
const char *sandbox_shell(const char *root, struct strbuf *err);

/*
 * name as the image's execvp would find it inside root: itself when it
 * has a "/" (absolute, or made so from "/"), else the first executable
 * file of that name in path's directories (a PATH value; absolute ones
 * only). Symbolic links are resolved inside root. The path inside,
 * malloc'ed, or NULL with the reason in err.
 */
char *sandbox_which(const char *root, const char *name, const char *path,
		    struct strbuf *err);

/*
 * The bwrap to use ($CIDRE_BWRAP, else bwrap in PATH) once it was seen
 * to work here (a trivial sandbox is started once per process, the
 * answer kept). NULL, with the reason in err, when it cannot run.
 */
const char *sandbox_bwrap(struct strbuf *err);

/*
 * Check a relative path as a member of an image tarball: non-empty, not
 * absolute, no ".." component. 0, or -1 with the reason in err.
 */
int sandbox_check_member(const char *path, struct strbuf *err);

/*
 * Check a symbolic link at path (relative to an image root) pointing to
 * target: an absolute target is resolved inside the image and is fine;
 * a relative one must not climb above the image root. 0, or -1 with the
 * reason in err.
 */
int sandbox_check_symlink(const char *path, const char *target,
			  struct strbuf *err);

#endif
