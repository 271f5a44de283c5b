#!/usr/bin/env python3
"""Prints a machine model saved by `lockstep calibrate` as the C string literal of
builtin_machine in src/compile/machine.c (the figures used when no machine file exists).

    build/lockstep calibrate --fresh -o /tmp/m.json   # then a few more runs, at other times:
    build/lockstep calibrate -o /tmp/m.json           # each merges into the file
    python3 tools/machine_builtin.py /tmp/m.json

On a shared host each calibration catches the state of its own minute; calibrate merges its
runs (the highest of every rate, the mean of every latency and stretch: ls_machine_merge, the
compute stretch then fitted again: ls_calibrate_refit), so the file describes the host's
usual state.
"""
import json
import sys


def fmt(v):
    return f"{v:.4g}"


def row(values):
    return "[" + ", ".join(fmt(v) for v in values) + "]"


def rows(table):
    return "[" + ", ".join(row(r) for r in table) + "]"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: machine_builtin.py MACHINE.json")
    m = json.load(open(sys.argv[1]))
    lines = [
        '{"format": "%s", "threads": %d, "calibrations": %d,' % (m["format"], m["threads"], m["calibrations"]),
        ' "sizes": [%s],' % ", ".join(str(int(s)) for s in m["sizes"]),
        ' "read_gbs": %s,' % rows(m["read_gbs"]),
        ' "barrier_us": %s, "call_us": %s,' % (row(m["barrier_us"]), row(m["call_us"])),
        ' "stream_short_gmacs": %s,' % row(m["stream_short_gmacs"]),
        ' "compute_stretch": %s, "workload_ms": %s,' % (row(m["compute_stretch"]), row(m["workload_ms"])),
        ' "stream_stretch": %s,' % rows(m["stream_stretch"]),
        ' "cold_us": %s, "cold_line_ns": %s,' % (rows(m["cold_us"]), rows(m["cold_line_ns"])),
    ]
    for key in ("matmul_gmacs", "matmul_gmacs_512", "matmul_gmacs_256", "matmul_gmacs_288", "matmul_gmacs_640"):
        lines.append(' "%s": {' % key)
        items = list(m[key].items())
        for i, (name, table) in enumerate(items):
            lines.append('  "%s": %s%s' % (name, rows(table), "}," if i == len(items) - 1 else ","))
    lines.append(' "rates_g": {')
    items = list(m["rates_g"].items())
    for i, (name, values) in enumerate(items):
        lines.append('  "%s": %s%s' % (name, row(values), "}," if i == len(items) - 1 else ","))
    lines.append(' "attention_gpairs": %s,' % rows(m["attention_gpairs"]))
    lines.append(' "attention_grows": %s,' % rows(m["attention_grows"]))
    lines.append(' "matmul_stream_gmacs": {')
    items = list(m["matmul_stream_gmacs"].items())
    for i, (name, table) in enumerate(items):
        lines.append('  "%s": %s%s' % (name, rows(table), "}}" if i == len(items) - 1 else ","))
    for line in lines:
        print('    "' + line.replace('"', '\\"') + '\\n"')


if __name__ == "__main__":
    main()
