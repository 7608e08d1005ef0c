#!/usr/bin/env python3
"""What is left of a sandbox's cost on a job's path once it is prestarted:
bwrap started as cidre starts it (with --block-fd), given time to set up,
then the time from the byte that releases it to its exit, beside a plain
fork+exec of the same command.

  release.py IMAGE_ROOT WORKSPACE RUNS -- COMMAND...
"""
import os, socket, statistics, subprocess, sys, time

root, ws, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmd = sys.argv[sys.argv.index("--") + 1:]
argv = ["bwrap", "--unshare-user", "--unshare-ipc", "--unshare-pid",
        "--unshare-uts", "--unshare-cgroup-try", "--unshare-net",
        "--die-with-parent", "--uid", "65534", "--gid", "65534",
        "--cap-drop", "ALL"]
for n in sorted(os.listdir(root)):
    p = os.path.join(root, n)
    if n in ("proc", "dev", "tmp", "builds"):
        continue
    if os.path.islink(p):
        argv += ["--symlink", os.readlink(p), "/" + n]
    elif os.path.isdir(p):
        argv += ["--ro-bind", p, "/" + n]
argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
         "--dir", "/builds/p", "--bind", ws, "/builds/p", "--remount-ro", "/",
         "--chdir", "/builds/p", "--block-fd", "4", "--"] + cmd
rel, plain = [], []
for _ in range(runs):
    ours, theirs = socket.socketpair()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         pass_fds=(theirs.fileno(),),
                         preexec_fn=lambda: os.dup2(theirs.fileno(), 4))
    theirs.close()
    time.sleep(0.1)  # set-up done long before (measured: 4-20 ms)
    t0 = time.monotonic()
    ours.send(b"x")
    p.wait()
    rel.append((time.monotonic() - t0) * 1e3)
    ours.close()
    t0 = time.monotonic()
    subprocess.call(cmd, stdout=subprocess.DEVNULL, cwd=ws)
    plain.append((time.monotonic() - t0) * 1e3)
q = lambda v, f: sorted(v)[int(len(v) * f)]
print("release to exit median %6.2f ms (p25 %5.2f, p75 %5.2f); fork+exec "
      "median %6.2f ms (p25 %5.2f, p75 %5.2f)  n=%d" %
      (statistics.median(rel), q(rel, .25), q(rel, .75),
       statistics.median(plain), q(plain, .25), q(plain, .75), runs))
