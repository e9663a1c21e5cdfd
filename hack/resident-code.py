#!/usr/bin/env python3
"""Which parts of a running binary are resident in a process, by ELF section and by module.

    hack/resident-code.py PID [BINARY]     # BINARY: the process's executable by default

Reads /proc/PID/maps and /proc/PID/pagemap (the "present" bit of each page; root or the
process's owner), maps every resident page of BINARY back to its ELF section, and the pages of
.text to the symbols in them (nm), grouped by Swift module (from the mangled name) or C symbol
prefix. Pages are 4 KiB; a page shared by two symbols counts for the first. Prints KiB.

The kernel maps file pages around a faulting one (fault-around, 64 KiB by default), so a
section touched in a few places is resident in 64 KiB runs.
"""
import bisect
import os
import re
import struct
import subprocess
import sys
from collections import Counter

PAGE = 4096


def sections(binary):
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    result = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            result.append((int(m.group(2), 16), int(m.group(4), 16), m.group(1)))
    return sorted(result)


def symbols(binary):
    out = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    addresses, names = [], []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwWuU":
            addresses.append(int(parts[0], 16))
            names.append(parts[2])
    return addresses, names


SWIFT = re.compile(r"^\$s(s|(\d+)([A-Za-z_][A-Za-z0-9_]*))")


def module(name):
    m = SWIFT.match(name)
    if m:
        if m.group(1) == "s":
            return "Swift (stdlib)"
        n = int(m.group(2))
        return "Swift " + m.group(3)[:n]
    for prefix in ("CNIOBoringSSL_", "_ZN4bssl", "sqlite3", "swift_", "_swift", "_ZN5swift", "_ZNSt", "_ZN", "u_", "ucol_", "icu_"):
        if name.startswith(prefix):
            return "C " + prefix
    m = re.match(r"^([A-Za-z]+_?)", name)
    return "C " + (m.group(1) if m else name[:8])


def main():
    pid = int(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) > 2 else os.readlink(f"/proc/{pid}/exe")
    real = os.path.realpath(binary)
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                maps.append((start, end, int(parts[2], 16), parts[1]))
    if not maps:
        sys.exit(f"{binary} is not mapped in {pid}")
    base = min(m[0] - m[2] for m in maps)  # PIE: the first mapping has offset 0 and vaddr 0
    present = []
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        for start, end, offset, perm in maps:
            f.seek(start // PAGE * 8)
            data = f.read((end - start) // PAGE * 8)
            for i in range(len(data) // 8):
                (entry,) = struct.unpack_from("<Q", data, i * 8)
                if entry >> 63 & 1:
                    present.append(start + i * PAGE - base)
    secs = sections(binary)
    starts = [s[0] for s in secs]
    by_section = Counter()
    text_pages = []
    for address in present:
        i = bisect.bisect_right(starts, address + PAGE - 1) - 1
        name = secs[i][2] if i >= 0 and address < secs[i][0] + secs[i][1] else "(between sections)"
        by_section[name] += 4
        if name == ".text":
            text_pages.append(address)
    print(f"resident pages of {binary} in {pid}: {len(present) * 4} KiB")
    for name, kib in by_section.most_common():
        print(f"  {name:32} {kib:8}")
    addresses, names = symbols(binary)
    by_module = Counter()
    for address in text_pages:
        i = bisect.bisect_right(addresses, address + PAGE - 1) - 1
        j = bisect.bisect_right(addresses, address) - 1
        # the symbol covering the page's first byte, else the first one starting in it
        k = j if j >= 0 else i
        by_module[module(names[k]) if k >= 0 else "?"] += 4
    print(".text by module (KiB):")
    for name, kib in by_module.most_common(40):
        print(f"  {name:32} {kib:8}")


if __name__ == "__main__":
    main()
