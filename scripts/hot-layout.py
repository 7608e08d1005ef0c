#!/usr/bin/env python3
"""Write the server's code layout: a linker script that puts the code the
server runs together, at the front of its text, in the order it first runs.

    scripts/hot-layout.py --map LINK.map --bin cidre-server --out hot.ld \
        [--native FAULTS LAID-OUT-SERVER PID]... PROFILE...

PROFILE: callgrind output files of one server run, one per phase (start and
idle, pipelines, other requests, stop), as scripts/hot-profile.sh writes
them. --native: the page faults of a laid-out server run natively (perf
script -F comm,pid,addr,ip), one per pass. LINK.map and cidre-server: a
link of the same objects without a layout (-Wl,-Map), compiled with
-ffunction-sections, so that each of our functions is an input section of
its own. Library archives come as they
are built: one section per member (glibc: mostly one function each).

Why: the kernel maps a file's pages 64 kB around each page fault (fault
around), so every function the server runs, wherever it lies, counts 64 kB
of resident memory. Together, they count their own size. See
docs/internals/build.md.
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys

# A library member this large of which less than a quarter runs goes last
# (see main()).
SPARSE_SIZE = 16384
# What posix_spawn's child runs before its exec: it shares the server's
# memory (CLONE_VM | CLONE_VFORK), so its pages count in the server's, but
# valgrind forks instead and a native pass sees only what happened to
# fault first in a window. glibc members, placed after the start's code.
SPAWN_CHILD = ["spawni.o", "sigaction.o", "libc_sigaction.o", "sigprocmask.o", "setsid.o",
               "setpgid.o", "dup2.o", "closefrom.o", "close_range.o", "closefrom_fallback.o",
               "open64_nocancel.o", "fcntl_nocancel.o", "spawn_valid_fd.o", "chdir.o",
               "fchdir.o", "execve.o", "_exit.o"]
# What runs only on a race or a wait, so that a profile may miss it, but
# a busy server does it now and then: a job that ended before its pidfd
# was opened is checked with kill(pid, 0), a store locked by another
# connection waits in busy_wait() (nanosleep), a restart waits with
# usleep() for the data directory's lock a killed server still holds.
# Small, and each would otherwise take a whole 64 kB
# window of cold text: placed after the start's code, as
# (library or None, member or object, section).
RARE = [("libc.a", "kill.o", ".text"), ("libc.a", "nanosleep.o", ".text"),
        ("libc.a", "clock_nanosleep.o", ".text"), ("libc.a", "usleep.o", ".text"),
        (None, "src/store/store_sqlite.o", ".text.busy_wait")]
# Constants the server reads in members without code, which a profile of
# functions never names: glibc's C locale, whose decimal point
# printf("%f") reads (jansson formats every real, the job spec has some).
# It was a 3-byte string merged into the cold constants, and the first
# job's spec paged in a 64 kB window of them.
RODATA_ONLY = ["C-numeric.o", "C_name.o"]
# glibc's string functions: the variant a CPU runs is chosen at start
# (IFUNC), in sections named after the instruction set. A profile run under
# valgrind sees one of them; the layout keeps every variant of the families
# it saw, one instruction set after the other, so that a CPU that picks
# another touches one compact group. The older CPUs' variants (SSE2 to
# SSE4.2) stay out: those CPUs are rare where a server runs now, and would
# make every other one carry them.
ISA_ORDER = [".text.evex512", ".text.evex", ".text.avx512", ".text.avx"]
OLDER_ISA = [".text.sse4.2", ".text.sse4.1", ".text.ssse3", ".text.sse2"]


def parse_map(path):
    """GNU ld map: [(addr, size, object, section)] of the input sections"""
    secs = []
    cur = None
    started = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("Linker script and memory map"):
                started = True
            if not started:
                continue
            m = re.match(r"^ (\.\S+)\s*$", line)
            if m:
                cur = m.group(1)
                continue
            m = re.match(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m:
                name = m.group(1) or cur
                cur = None
                addr, size = int(m.group(2), 16), int(m.group(3), 16)
                if name and addr and size:
                    secs.append((addr, size, m.group(4), name))
            else:
                cur = None
    secs.sort()
    return secs


def parse_profile(path):
    """callgrind output: the (source file or None, function) pairs that ran"""
    names, files, ran = {}, {}, []
    cur = None
    with open(path) as f:
        for line in f:
            m = re.match(r"^(fl|fi|fe|cfi|cfl)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    files[m.group(2)] = m.group(3)
                if m.group(1) == "fl":
                    cur = files.get(m.group(2))
                continue
            m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == "fn":
                    fn = re.sub(r"'\d+$", "", names[m.group(2)])
                    ran.append((None if cur in (None, "???") else cur, fn))
    return ran


def member(obj):
    """'dir/libc.a(memchr-avx2.o)' -> ('libc.a', 'memchr-avx2.o'); our objects -> (None, path)"""
    m = re.match(r"^(.*)\(([^)]*)\)$", obj)
    if m:
        return os.path.basename(m.group(1)), m.group(2)
    return None, obj


def pattern(obj, sec):
    lib, mem = member(obj)
    if lib:
        return "*%s:%s(%s)" % (lib, mem, sec)
    # our objects: from src/ on, whatever the build directory
    parts = mem.split("/")
    k = len(parts) - 1 - parts[::-1].index("src") if "src" in parts else len(parts) - 1
    return "*%s(%s)" % ("/".join(parts[k:]), sec)


def section_ranges(binary):
    """readelf: {name: (start, end)} of a binary's sections"""
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True,
                         check=True).stdout
    r = {}
    for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out):
        r[m.group(1)] = (int(m.group(2), 16), int(m.group(2), 16) + int(m.group(3), 16))
    return r


def native_faults(faults, faulted, pid, where):
    """the functions of a laid-out server that faulted outside its hot text:
    faults of the server (pid), and of its children until they exec (comm
    still the server's name): posix_spawn's children share its memory
    (CLONE_VM), so what they run before their exec is mapped in the
    server's page tables. valgrind cannot show them (it forks instead)."""
    comm = os.path.basename(faulted)[:15]
    secs = section_ranges(faulted)
    lo, hi = secs[".text"]
    syms = []
    nm = subprocess.run(["nm", "-n", "--defined-only", faulted], capture_output=True,
                        text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTiWw":
            syms.append((int(p[0], 16), p[2]))
    addrs = [x[0] for x in syms]
    ran = []
    with open(faults) as f:
        for line in f:
            m = re.match(r"^\s*(.+?)\s+(\d+)\s+([0-9a-f]+)\s+[0-9a-f]+\s*$", line)
            if not m or (int(m.group(2)) != pid and m.group(1) != comm):
                continue
            addr = int(m.group(3), 16)
            if not lo <= addr < hi:
                continue
            i = bisect.bisect_right(addrs, addr) - 1
            if i >= 0 and syms[i][1] in where and (None, syms[i][1]) not in ran:
                ran.append((None, syms[i][1]))
    print("native faults outside the hot text: %d functions" % len(ran), file=sys.stderr)
    return ran


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--map", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--native", nargs=3, action="append", default=[],
                    metavar=("FAULTS", "BINARY", "PID"),
                    help="perf script -F comm,pid,addr,ip of the page faults of a laid-out "
                    "server BINARY, whose own pid (not its children's) was PID; "
                    "repeated for each native pass")
    ap.add_argument("profiles", nargs="+")
    a = ap.parse_args()

    secs = parse_map(a.map)
    text = [s for s in secs if s[3].startswith(".text")]
    starts = [s[0] for s in text]

    def section_at(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and text[i][0] <= addr < text[i][0] + text[i][1]:
            return i
        return None

    where = collections.defaultdict(set)
    fsize = {}
    nm = subprocess.run(["nm", "-S", "--defined-only", a.bin], capture_output=True,
                        text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 3:
            p.insert(1, "0")        # no size (crt objects' functions)
        if len(p) == 4 and p[2] in "tTiWw":
            i = section_at(int(p[0], 16))
            if i is not None:
                where[p[3]].add(i)
                fsize[(p[3], i)] = int(p[1], 16)

    phases = [parse_profile(p) for p in a.profiles]
    extra = []
    for faults, binary, pid in a.native:
        for ran in native_faults(faults, binary, int(pid), where):
            if ran not in extra:
                extra.append(ran)
    # what only a native run shows comes after the start: most of it is
    # the start's (the vDSO, the re-exec, the CPU's string functions)
    names = [os.path.basename(p) for p in a.profiles]
    if extra:
        phases.insert(1, extra)
        names.insert(1, "native faults")

    order, seen = [], set()
    hot_objs = []
    unplaced = set()
    ran_bytes = collections.Counter()
    counted = set()
    for phase, ran in enumerate(phases):
        size = 0
        for src, fn in ran:
            cands = set(where.get(fn, ()))
            if len(cands) > 1:
                # a static name defined in several files: the profile's
                # source file says which; a library's (no debug
                # information) stays with its member's other functions
                want = os.path.splitext(os.path.basename(src))[0] + ".o" if src else None
                cands = {i for i in cands if os.path.basename(member(text[i][2])[1]) == want}
            if len(cands) != 1:
                unplaced.add(fn)
                continue
            i = cands.pop()
            if (fn, i) not in counted:
                counted.add((fn, i))
                ran_bytes[i] += fsize.get((fn, i), 0)
            if i in seen:
                continue
            seen.add(i)
            order.append(i)
            size += text[i][1]
            if text[i][2] not in hot_objs:
                hot_objs.append(text[i][2])
        print("%s: %d kB" % (names[phase], size // 1024), file=sys.stderr)
        if phase == 0:
            after_start = len(order)

    # glibc's variant families seen, and all their members
    def family(i):
        lib, mem = member(text[i][2])
        return mem.split("-")[0] if lib == "libc.a" and "-" in mem else None
    with_isa = {family(i) for i in range(len(text)) if text[i][3] in ISA_ORDER + OLDER_ISA}
    families = {family(i) for i in order} & with_isa - {None}
    variants = []
    for isa in ISA_ORDER:
        for i, s in enumerate(text):
            if s[3] == isa and i not in seen and family(i) in families:
                seen.add(i)
                variants.append(i)
    vsize = sum(text[i][1] for i in variants)
    print("string function variants: %d sections, %d kB" % (len(variants), vsize // 1024),
          file=sys.stderr)
    print("functions not placed (no symbol, or a name in several members): %d" % len(unplaced),
          file=sys.stderr)

    # a library member of which little runs goes last: in the middle it
    # would take whole pages around its few functions
    sparse = [i for i in order if text[i][1] >= SPARSE_SIZE and ran_bytes[i] * 4 < text[i][1]]
    print("sparse sections last: %d, %d kB" % (len(sparse), sum(text[i][1] for i in sparse) // 1024),
          file=sys.stderr)
    spawn = [i for i, t in enumerate(text)
             if member(t[2])[0] == "libc.a" and member(t[2])[1] in SPAWN_CHILD
             and t[3] == ".text" and i not in order]
    print("posix_spawn's child: %d sections more" % len(spawn), file=sys.stderr)
    def rare(t):
        lib, mem = member(t[2])
        return any(lib == r[0] and t[3] == r[2] and
                   (mem == r[1] if lib else mem.endswith("/" + r[1]) or mem == r[1])
                   for r in RARE)
    rares = [i for i, t in enumerate(text) if rare(t) and i not in order and i not in spawn]
    print("rare paths: %d sections more" % len(rares), file=sys.stderr)
    dense = [i for i in order[:after_start] if i not in sparse] + variants + spawn + rares + \
        [i for i in order[after_start:] if i not in sparse]

    with open(a.out, "w") as f:
        f.write("/* The server's code layout, written by scripts/hot-layout.py from a\n"
                "   profile (make hot-layout): what it runs first comes first. See\n"
                "   docs/internals/build.md. An entry that matches nothing is ignored. */\n")
        f.write("SECTIONS\n{\n  .text.hot :\n  {\n")
        # the string functions' variants right after the start's code: a
        # CPU runs its own from the start
        for i in dense + sparse:
            f.write("    %s\n" % pattern(text[i][2], text[i][3]))
        f.write("  }\n}\nINSERT BEFORE .text;\n\n")
        f.write("/* the constants of the same objects, in the same order */\n")
        f.write("SECTIONS\n{\n  .rodata.hot :\n  {\n")
        for obj in hot_objs:
            f.write("    %s\n" % pattern(obj, ".rodata .rodata.*"))
        for mem in RODATA_ONLY:
            f.write("    *libc.a:%s(.rodata .rodata.*)\n" % mem)
        f.write("  }\n}\nINSERT AFTER .rodata;\n")


if __name__ == "__main__":
    main()
