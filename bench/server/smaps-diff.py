#!/usr/bin/env python3
"""What grew between two copies of /proc/PID/smaps, mapping by mapping:

    bench/server/smaps-diff.py BEFORE AFTER

(growth.sh writes them with SMAPS=PREFIX). One line per mapping whose
resident size changed: the change, before -> after (kB), its start
address, permissions and name, the largest growth first.
"""
import re
import sys

HEADER = re.compile(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$')


def parse(path):
    """{(start, name, perms): Rss in kB}"""
    out, key = {}, None
    with open(path) as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                key = (m.group(1), m.group(4) or '[anon]', m.group(3))
                out[key] = 0
            elif line.startswith('Rss:'):
                out[key] = int(line.split()[1])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: smaps-diff.py BEFORE AFTER")
    a, b = parse(sys.argv[1]), parse(sys.argv[2])
    rows = []
    for k in set(a) | set(b):
        ra, rb = a.get(k, 0), b.get(k, 0)
        if ra != rb:
            rows.append((rb - ra, k, ra, rb))
    rows.sort(reverse=True)
    for d, k, ra, rb in rows:
        print("%+5d kB  %5d -> %5d  %s %s %s" % (d, ra, rb, k[0], k[2], k[1]))
    print("%+5d kB in all" % sum(r[0] for r in rows))


if __name__ == '__main__':
    main()
