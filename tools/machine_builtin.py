#!/usr/bin/env python3
"""Prints a machine model saved by `lockstep calibrate` as the C string literal of
builtin_machine in src/compile/cost.c (the figures used when no machine file exists).

    build/lockstep calibrate -o /tmp/m.json && python3 tools/machine_builtin.py /tmp/m.json
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
        '{"format": "%s", "threads": %d,' % (m["format"], m["threads"]),
        ' "sizes": [%s],' % ", ".join(str(int(s)) for s in m["sizes"]),
        ' "read_gbs": %s,' % rows(m["read_gbs"]),
        ' "barrier_us": %s, "call_us": %s,' % (row(m["barrier_us"]), row(m["call_us"])),
        ' "cold_us": %s, "cold_line_ns": %s,' % (rows(m["cold_us"]), rows(m["cold_line_ns"])),
    ]
    for key in ("matmul_gmacs", "matmul_gmacs_512", "matmul_gmacs_256", "matmul_gmacs_288"):
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
