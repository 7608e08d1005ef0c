#!/usr/bin/env python3
"""Interleaved A/B timing of whole commands on a shared, noisy machine:
every round runs each variant once, in a fresh random order, so that the
load of the moment falls on all of them alike. Prints per variant the
median, p25/p75 and the median of per-round ratios to the first variant
(or to --base NAME), and the median CPU time (user + system) of the
command and everything it waited for (rusage of the child).

  ab.py [--rounds N] [--warmup N] [--base NAME] [--gap S] NAME=CMD... [--cwd DIR]
  (--gap: sleep S seconds before each command: runs after a pause, as
  a developer's are, rather than back to back)
  (CMD is split on spaces; ENV=VAL words before it set its environment)
"""
import os, random, statistics, subprocess, sys, time

rounds, warmup, base, cwd, gap, variants = 40, 3, None, None, 0.0, []
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--rounds":
        rounds = int(args.pop(0))
    elif a == "--warmup":
        warmup = int(args.pop(0))
    elif a == "--base":
        base = args.pop(0)
    elif a == "--gap":
        gap = float(args.pop(0))
    elif a == "--cwd":
        cwd = args.pop(0)
    else:
        name, cmd = a.split("=", 1)
        words, env = cmd.split(), dict(os.environ)
        while words and "=" in words[0] and not words[0].startswith("/"):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        variants.append((name, words, env))
base = base or variants[0][0]
times = {n: [] for n, _, _ in variants}
cpu = {n: [] for n, _, _ in variants}
load0 = open("/proc/loadavg").read().split()[:3]
for r in range(warmup + rounds):
    order = variants[:]
    random.shuffle(order)
    for name, words, env in order:
        if gap:
            time.sleep(gap)
        t0 = time.monotonic()
        p = subprocess.Popen(words, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        dt = (time.monotonic() - t0) * 1e3
        p.returncode = 0
        if st:
            sys.exit("%s failed (status %d)" % (name, st))
        if r >= warmup:
            times[name].append(dt)
            cpu[name].append((ru.ru_utime + ru.ru_stime) * 1e3)
load1 = open("/proc/loadavg").read().split()[:3]
q = lambda v, f: sorted(v)[int(len(v) * f)]
print("load before %s, after %s; %d rounds; Nx: median of per-round ratios"
      % (" ".join(load0), " ".join(load1), rounds))
for name, _, _ in variants:
    v = times[name]
    ratio = statistics.median(a / b for a, b in zip(v, times[base]))
    print("%-20s median %7.2f ms (p25 %7.2f, p75 %7.2f)  %.2fx %s  cpu %6.2f ms" %
          (name, statistics.median(v), q(v, .25), q(v, .75), ratio, base,
           statistics.median(cpu[name])))
