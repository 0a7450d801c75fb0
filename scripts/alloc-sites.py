#!/usr/bin/env python3
"""Heap allocation sites per unary call, from a DHAT profile of bench-alloc.

    valgrind --tool=dhat --dhat-out-file=target/profile/dhat.json \
        target/release/bench-alloc both --impl rustgrpc-async --size 10 --warm 100 --calls 2000
    scripts/alloc-sites.py target/profile/dhat.json 2000

Lists the sites that allocate at least 0.5 times per call, each with the
first frames outside the allocator and the standard library.
"""

import json
import re
import sys

SKIP = re.compile(
    r"^(malloc|calloc|realloc|__rust|__rdl|alloc::|core::|std::|<alloc::|<core::|<std::|"
    r"hashbrown::|<hashbrown|stats_alloc|<stats_alloc|_ZN|\?\?\?|0x)"
)


def strip_generics(name):
    out, depth = [], 0
    for c in name:
        if c == "<":
            depth += 1
            if depth == 1 and out and out[-1] != ":":
                continue
        elif c == ">":
            depth -= 1
            continue
        if depth == 0 or (depth == 1 and c != "<" and not out) :
            out.append(c)
    return "".join(out) or name


def frame(entry):
    """(name, location) of "0x4A1B2C3: h2::x::y<T> (src/file.rs:12)"."""
    text = entry.split(": ", 1)[-1]
    m = re.match(r"(.*) \((?:in )?([^()]*)\)$", text)
    if not m:
        return text, ""
    return m.group(1), m.group(2)


def useful(entry):
    name, location = frame(entry)
    if location.startswith("library/") or "/rustc/" in location or "vgpreload" in location:
        return False
    return not SKIP.match(name)


def show(entry):
    name, location = frame(entry)
    return f"{strip_generics(name)} ({location})"


def main():
    data = json.load(open(sys.argv[1]))
    calls = float(sys.argv[2])
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    table = data["ftbl"]
    rows = []
    for pp in data["pps"]:
        per_call = pp["tbk"] / calls
        if per_call < 0.5:
            continue
        frames = [show(table[i]) for i in pp["fs"] if useful(table[i])]
        rows.append((per_call, pp["tb"] / calls, " <- ".join(frames[:depth])))
    rows.sort(key=lambda r: -r[0])
    total = sum(r[0] for r in rows)
    print(f"{total:.1f} allocations per call at sites with >= 0.5 per call")
    for per_call, bytes_, where in rows:
        print(f"{per_call:5.1f}  {bytes_:8.0f} B  {where}")


if __name__ == "__main__":
    main()
