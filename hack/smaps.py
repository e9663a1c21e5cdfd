#!/usr/bin/env python3
"""Where a process's resident memory is, from /proc/PID/smaps (or a saved copy).

    hack/smaps.py PID|FILE [PID|FILE ...]     # one column per argument

Rows are mapping classes: each file-backed object split by permission (r-x code, r-- read-only
data and relocated .data.rel.ro/GOT after RELRO, rw- data), the heap ([heap] and the anonymous
mappings glibc's malloc uses for thread arenas and large blocks), thread stacks (anonymous
mappings right after a guard page), and the rest. Values are Rss in KiB; "anon" sums what the
kernel counts as anonymous (private dirty/copied-on-write pages of file mappings included).
"""
import os
import re
import sys
from collections import OrderedDict

HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$")


def parse(path):
    maps = []
    current = None
    with open(path) as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                current = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "perm": m.group(3),
                           "name": m.group(4).strip(), "fields": {}}
                maps.append(current)
                continue
            key, _, rest = line.partition(":")
            parts = rest.split()
            if current is not None and parts and parts[0].isdigit():
                current["fields"][key] = int(parts[0])
    return maps


def classify(maps):
    rows = OrderedDict()

    def add(key, m):
        row = rows.setdefault(key, {"rss": 0, "anon": 0, "size": 0, "count": 0})
        row["rss"] += m["fields"].get("Rss", 0)
        row["anon"] += m["fields"].get("Anonymous", 0)
        row["size"] += m["fields"].get("Size", 0)
        row["count"] += 1

    for i, m in enumerate(maps):
        name = m["name"]
        perm = m["perm"][:3]
        previous = maps[i - 1] if i > 0 else None
        following = maps[i + 1] if i + 1 < len(maps) else None
        if name.startswith("/"):
            add(f"{os.path.basename(name)} {perm}", m)
        elif name == "[heap]":
            add("heap: main arena ([heap], brk)", m)
        elif name == "[stack]":
            add("stack: main thread", m)
        elif name.startswith("["):
            add(f"kernel {name}", m)
        elif perm == "---":
            add("guard pages / arena reserve (---)", m)
        elif (following is not None and not following["name"] and following["perm"][:3] == "---"
              and following["start"] == m["end"] and m["start"] % (64 << 20) == 0):
            # glibc's non-main arenas: 64 MiB-aligned heaps, the unused tail PROT_NONE.
            add("heap: glibc thread arenas", m)
        elif (previous is not None and not previous["name"] and previous["perm"][:3] == "---"
              and previous["end"] == m["start"] and previous["end"] - previous["start"] <= 64 << 10):
            add("anon: thread stacks (after a guard page)", m)
        else:
            add("anon: other (large malloc blocks, Swift/dispatch runtime)", m)
    return rows


def arenas(maps):
    """glibc non-main arenas: rw- anonymous mapping followed by a --- mapping, together 64 MiB."""
    total = 0
    count = 0
    for a, b in zip(maps, maps[1:]):
        if (not a["name"] and a["perm"][:3] == "rw-" and b["perm"][:3] == "---" and not b["name"]
                and a["end"] == b["start"] and (b["end"] - a["start"]) == 64 << 20):
            total += a["fields"].get("Rss", 0)
            count += 1
    return count, total


def main():
    columns = []
    for arg in sys.argv[1:]:
        path = f"/proc/{arg}/smaps" if arg.isdigit() else arg
        maps = parse(path)
        columns.append((os.path.basename(arg), classify(maps), arenas(maps), maps))
    keys = []
    for _, rows, _, _ in columns:
        for k in rows:
            if k not in keys:
                keys.append(k)
    keys.sort(key=lambda k: -max(c[1].get(k, {"rss": 0})["rss"] for c in columns))
    width = max(len(k) for k in keys) + 2
    print("Rss KiB".ljust(width) + "".join(name[:22].rjust(24) for name, *_ in columns))
    for k in keys:
        values = [c[1].get(k) for c in columns]
        if all(v is None or v["rss"] == 0 for v in values):
            continue
        print(k.ljust(width) + "".join((f"{v['rss']}" + (f" ({v['anon']} anon)" if v and v["anon"] else "") if v else "-").rjust(24) for v in values))
    print("-" * (width + 24 * len(columns)))
    totals = [sum(m["fields"].get("Rss", 0) for m in c[3]) for c in columns]
    anons = [sum(m["fields"].get("Anonymous", 0) for m in c[3]) for c in columns]
    print("total Rss".ljust(width) + "".join(str(t).rjust(24) for t in totals))
    print("of which anonymous".ljust(width) + "".join(str(t).rjust(24) for t in anons))
    print("glibc thread arenas (count: Rss)".ljust(width) + "".join(f"{c[2][0]}: {c[2][1]}".rjust(24) for c in columns))


if __name__ == "__main__":
    main()
