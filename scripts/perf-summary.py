#!/usr/bin/env python3
"""Groups a perf profile by where the time goes: kernel (scheduler vs
network), malloc/free, memcpy, and the Rust crates of the binary.

usage: scripts/perf-summary.py target/profile/server-rustgrpc-async.data
"""

import re
import subprocess
import sys
from collections import defaultdict

SCHED = re.compile(
    r"finish_task_switch|_raw_spin_unlock|schedule|futex|try_to_wake_up|"
    r"ttwu|dequeue|enqueue|pick_next|update_curr|switch_|select_task|"
    r"psi_|native_sched|cpuidle|idle|hrtimer|wake"
)
NET = re.compile(r"tcp|ip_|ipv4|ipv6|skb|sock|net_|__dev|loopback|inet|sk_|nf_|napi|veth|process_backlog")
MALLOC = re.compile(r"malloc|free|_int_|unlink_chunk|realloc|calloc|tcache|sysmalloc|__libc_alloc")
MEM = re.compile(r"memmove|memcpy|memset")


def crate_of(symbol):
    symbol = symbol.lstrip("<&*")
    symbol = re.sub(r"^(dyn |mut |const )+", "", symbol)
    head = symbol.split("::", 1)[0]
    if head in ("core", "alloc", "std"):
        return "std"
    return head or "?"


def main():
    data = sys.argv[1]
    report = subprocess.run(
        ["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
         "--percent-limit", "0", "-g", "none"],
        capture_output=True, text=True, check=True,
    ).stdout
    groups = defaultdict(float)
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        if kind == "k":
            if SCHED.search(symbol):
                key = "kernel: scheduling, wakeups, futex"
            elif NET.search(symbol):
                key = "kernel: TCP/loopback"
            else:
                key = "kernel: syscalls, other"
        elif dso.startswith("libc"):
            if MEM.search(symbol):
                key = "libc: memmove/memcpy"
            elif MALLOC.search(symbol):
                key = "libc: malloc/free"
            else:
                key = "libc: other (syscall wrappers, locks)"
        elif dso == "[vdso]":
            key = "vdso (clock_gettime)"
        else:
            key = "rust: " + crate_of(symbol)
        groups[key] += pct
    for key, pct in sorted(groups.items(), key=lambda kv: -kv[1]):
        if pct >= 0.5:
            print(f"{pct:6.1f}%  {key}")


if __name__ == "__main__":
    main()
