#!/usr/bin/env python3
"""What of a running server's code is resident, 64 kB window by window:

    bench/server/resident.py PID [--all]

For each 64 kB window of the text of the binary PID runs (the kernel maps
up to a window around each page fault: fault around), one character per
page (X resident, . not) and the largest functions in it (nm -n -S of the
binary). Without --all, only the windows with a resident page. Needs root
(or the process's owner) for /proc/PID/pagemap, and nm (binutils).
See docs/internals/build.md.
"""
import struct
import subprocess
import sys

WINDOW = 0x10000
PAGE = 4096


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: resident.py PID [--all]")
    pid = int(args[0])
    show_all = "--all" in sys.argv
    binary = subprocess.run(["readlink", "/proc/%d/exe" % pid], capture_output=True,
                            text=True, check=True).stdout.strip()
    text = None
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            p = line.split()
            if len(p) > 5 and p[1] == "r-xp" and p[5] == binary:
                text = [int(x, 16) for x in p[0].split("-")]
                break
    if not text:
        sys.exit("resident.py: no text mapping of %s in process %d" % (binary, pid))
    lo, hi = text
    syms = []
    nm = subprocess.run(["nm", "-n", "-S", "--defined-only", binary], capture_output=True,
                        text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTiWw":
            syms.append((int(p[0], 16), int(p[1], 16), p[3]))
    with open("/proc/%d/pagemap" % pid, "rb") as pm:
        pm.seek(lo // PAGE * 8)
        raw = pm.read((hi - lo) // PAGE * 8)
    present = [(struct.unpack_from("<Q", raw, i * 8)[0] >> 63) & 1
               for i in range((hi - lo) // PAGE)]
    total = 0
    for w in range(lo & ~(WINDOW - 1), hi, WINDOW):
        pages = ""
        for j in range(WINDOW // PAGE):
            a = w + j * PAGE
            on = lo <= a < hi and present[(a - lo) // PAGE]
            pages += "X" if on else "."
        total += pages.count("X")
        if "X" not in pages and not show_all:
            continue
        inside = sorted((s for s in syms if w <= s[0] < w + WINDOW), key=lambda s: -s[1])[:3]
        print("%#x %s %s" % (w, pages, " ".join("%s(%d)" % (s[2][:28], s[1] // 1024)
                                                for s in inside)))
    print("resident: %d kB of %d kB of text" % (total * 4, (hi - lo) // 1024))


if __name__ == "__main__":
    main()
