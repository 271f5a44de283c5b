#!/usr/bin/env python3
"""Prints a machine model saved by `lockstep calibrate` as the C string literal of
builtin_machine in src/compile/cost.c (the figures used when no machine file exists).

    build/lockstep calibrate -o /tmp/m1.json && python3 tools/machine_builtin.py /tmp/m1.json

Given several calibrations of the same machine (on a shared host each catches some figures in
a slow spell), it prints the best of each: the highest of every rate (GB/s, GMAC/s, G/s) and
the median of every latency (barrier, call, cold reads: these move between modes as the host
places the vCPUs, and the median is the usual one) and of the compute and stream stretches (how
much longer than the fastest runs the host makes the typical one: a typical figure, not a best
one).
"""
import json
import statistics
import sys


def merge(models):
    """One model from several: rates the highest, latencies the median, element by element."""
    latencies = {"barrier_us", "call_us", "cold_us", "cold_line_ns", "compute_stretch", "stream_stretch"}

    def combine(values, key):
        if isinstance(values[0], dict):
            return {k: combine([v[k] for v in values], key) for k in values[0]}
        if isinstance(values[0], list):
            return [combine([v[i] for v in values], key) for i in range(len(values[0]))]
        return statistics.median(values) if key in latencies else max(values)

    first = models[0]
    for m in models[1:]:
        if (m["format"], m["threads"], m["sizes"]) != (first["format"], first["threads"], first["sizes"]):
            sys.exit("machine_builtin.py: the files are not calibrations of one kind (format, threads, sizes)")
    merged = dict(first)
    for key, value in first.items():
        if isinstance(value, (list, dict)) and key != "sizes":
            merged[key] = combine([m[key] for m in models], key)
    return merged


def fmt(v):
    return f"{v:.4g}"


def row(values):
    return "[" + ", ".join(fmt(v) for v in values) + "]"


def rows(table):
    return "[" + ", ".join(row(r) for r in table) + "]"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: machine_builtin.py MACHINE.json [MACHINE.json ...]")
    m = merge([json.load(open(path)) for path in sys.argv[1:]])
    lines = [
        '{"format": "%s", "threads": %d,' % (m["format"], m["threads"]),
        ' "sizes": [%s],' % ", ".join(str(int(s)) for s in m["sizes"]),
        ' "read_gbs": %s,' % rows(m["read_gbs"]),
        ' "barrier_us": %s, "call_us": %s,' % (row(m["barrier_us"]), row(m["call_us"])),
        ' "stream_short_gmacs": %s,' % row(m["stream_short_gmacs"]),
        ' "compute_stretch": %s,' % row(m["compute_stretch"]),
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
