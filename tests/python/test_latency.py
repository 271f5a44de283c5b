"""Known latency: `lockstep calibrate`, the cost model, `lockstep bench`, `compile --json`.

No speed thresholds here (the machine is shared): the checks are that the commands work,
that the program's figures are consistent with each other and with the model file read by
the gguf package, and that the cost model computes what cost.h says on a machine model whose
figures are chosen so the expected times can be worked out by hand."""
import json
import math
import os
import re
import subprocess
import tempfile

import numpy as np

from common import LOCKSTEP, ROOT, tiny_model


def lockstep(*args, timeout=300, env=None):
    return subprocess.run([LOCKSTEP, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def ok(*args, **kw):
    r = lockstep(*args, **kw)
    assert r.returncode == 0, f"lockstep {' '.join(args)} exited {r.returncode}: {r.stderr[-2000:]}"
    return r


def assert_bad_input(r, words):
    assert r.returncode == 2, f"exit {r.returncode}, stderr: {r.stderr!r}"
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"want one line on stderr, got {r.stderr!r}"
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in {lines[0]!r}"


def test_help_and_bad_flags():
    for c in ("calibrate", "bench", "compile"):
        r = ok(c, "--help")
        assert r.stdout.startswith("usage: lockstep " + c), r.stdout
        assert_bad_input(lockstep(c, "--no-such-flag"), ["unknown option"])
    r = ok("--help")
    assert "calibrate" in r.stdout and "bench" in r.stdout
    assert_bad_input(lockstep("calibrate", "-t", "0"), ["-t"])
    assert_bad_input(lockstep("bench", "--repeat", "x"), ["--repeat"])
    model = tiny_model("llama", "q8_0")
    assert_bad_input(lockstep("compile", "-m", model, "--machine", "/nonexistent/m.json"),
                     ["/nonexistent/m.json"])
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.json")
        # lockstep-machine-1: before attention was measured per head size; -3 and -4: before
        # the partial groups' costs (rows of 256, of 288) were; -6: before rows of 640; -7:
        # before the short rows' stream; -8: before the compute stretch; -9: before the
        # stream stretch; -10: before the streams over 1 GiB; -11: before the count of merged
        # calibrations; -12: before the compute stretch was fitted to the workload.
        for text in ["", "{", '{"format": "lockstep-machine-5", "threads": 1}',
                     '{"format": "lockstep-machine-11", "threads": 1}',
                     '{"format": "lockstep-machine-13", "threads": 1, "calibrations": 0}',
                     '{"format": "lockstep-machine-12", "threads": 1, "calibrations": 1}',
                     '{"format": "lockstep-machine-9", "threads": 1}',
                     '{"format": "lockstep-machine-10", "threads": 1}',
                     '{"format": "lockstep-machine-8", "threads": 1}',
                     '{"format": "lockstep-machine-6", "threads": 1}',
                     '{"format": "lockstep-machine-7", "threads": 1}',
                     '{"format": "lockstep-machine-4", "threads": 1}',
                     '{"format": "lockstep-machine-1", "threads": 1}',
                     '{"format": "lockstep-machine-3", "threads": 1}',
                     '{"format": "other", "threads": 1}', '{"threads": -3}']:
            with open(bad, "w") as f:
                f.write(text)
            assert_bad_input(lockstep("compile", "-m", model, "--machine", bad), [bad])
        # A stretch below 1 (compute faster than its fastest run) is no measurement.
        synthetic_machine(bad, stretch=0.5)
        assert_bad_input(lockstep("compile", "-m", model, "--machine", bad), [bad, "compute_stretch"])
        synthetic_machine(bad, stream_stretch=(1.2, 0.9, 1.1))
        assert_bad_input(lockstep("compile", "-m", model, "--machine", bad), [bad, "stream_stretch"])
        # The variable names the file too; a missing default file is not an error.
        env = dict(os.environ, LOCKSTEP_MACHINE=bad)
        assert_bad_input(lockstep("bench", "-m", model, "--ctx", "64", env=env), [bad])
        env = dict(os.environ, LOCKSTEP_MACHINE=os.path.join(tmp, "absent.json"))
        r = ok("compile", "-m", model, "--ctx", "64", env=env)
        assert "built-in" in r.stderr and "built-in" in r.stdout


def compile_both(model, *args, env=None):
    text = ok("compile", "-m", model, *args, env=env).stdout
    data = json.loads(ok("compile", "-m", model, "--json", *args, env=env).stdout)
    return text, data


def check_phases(d):
    """The schedule's safety, from the listing alone: a step reads a buffer written in its own
    phase (no barrier between) only where the writer's thread wrote exactly what this thread
    reads: both cut token rows alike, or the reader works column by column (cols) cut as the
    writer cut its columns, outputs or heads (times the head size: the row's width over the
    head count). And no two buffers alive in a common phase share
    arena bytes (a buffer lives from the phase that writes it to the last phase that reads
    it; a thread may run ahead to the end of its phase, so phases, not steps, count)."""
    steps = d["steps"]
    phase, phases = 0, []
    for st in steps:
        phases.append(phase)
        phase += st["barrier_after"]
    writer, live, where = {}, {}, {}
    for st, ph in zip(steps, phases):
        for o in st["operands"]:
            b = o["buffer"]
            where[b] = (o["offset"], o["bytes"])
            lo, hi = live.get(b, (ph, ph))
            live[b] = (min(lo, ph), max(hi, ph))
            if o["role"] != "in":
                continue
            w = writer.get(b)
            if w is None or phases[w["step"]] != ph:
                continue
            if w["split"] == st["split"] == "rows":
                assert w["tiles"] == st["tiles"], (w["step"], st["step"], b)
                continue
            assert st["split"] == "cols" and w["split"] in ("cols", "outputs", "heads"), (w["step"], st["step"], b)
            unit = st["work"] // w["work"] if w["split"] == "heads" else 1
            assert w["work"] * unit == st["work"], (w["step"], st["step"], b)
            assert [[a * unit, c * unit] for a, c in w["tiles"]] == st["tiles"], (w["step"], st["step"], b)
        for o in st["operands"]:
            if o["role"] == "out":
                writer[o["buffer"]] = st
    bufs = [b for b in live if where[b][1] > 0]
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            (la, ha), (lb, hb) = live[a], live[b]
            (oa, na), (ob, nb) = where[a], where[b]
            if la <= hb and lb <= ha:
                assert oa + na <= ob or ob + nb <= oa, (a, live[a], where[a], b, live[b], where[b])


def test_phases_read_only_own_tiles():
    # A Q4_K_M-like Gemma (v in another format than q and k: two quantize steps before one
    # barrier), a llama; thread counts that cut tiles unevenly; decode and prefill calls.
    # The Gemma with heads of 256 and an ffn of 1024 has its quantize steps after attention and
    # glu cut by columns with 2 threads (and 1), joining those steps' phases.
    wide = tiny_model("gemma3", "mixed", vocab="spm", head_dim=256, ffn=1024)
    for model in [tiny_model("gemma3", "mixed"), tiny_model("llama", "q8_0"), wide]:
        for threads in ["1", "2", "3", "4", "8"]:
            for batch in ["1", "7", "16"]:
                d = compile_both(model, "-t", threads, "--batch", batch, "--ctx", "96")[1]
                check_phases(d)
                # Every quantized type reads one activation format: an input is quantized once
                # (the mixed Gemma's q and k are Q5_0, v Q8_0).
                sources = [st["operands"][0]["buffer"] for st in d["steps"] if st["kernel"] == "quantize"]
                assert len(sources) == len(set(sources)), sources
                cols = [st for st in d["steps"] if st["kernel"] == "quantize" and st["split"] == "cols"]
                if model == wide and threads == "2":
                    assert len(cols) == 2 * 7 and not any(st["barrier_after"] for st in d["steps"]
                                                          if st["kernel"] == "attention"), d["steps"][:20]


def test_compile_json_consistent():
    import gguf
    model = tiny_model("llama", "q8_0")
    text, d = compile_both(model, "-t", "2", "--batch", "16", "--ctx", "96")
    steps, s = d["steps"], d["summary"]
    step_lines = [l for l in text.splitlines() if re.match(r"^\s*\d+\s", l)]
    assert len(step_lines) == len(steps) == s["n_steps"]
    # Barriers: where the text says so, as many as the summary counts, always after the last.
    barriers = [st["barrier_after"] for st in steps]
    assert barriers == [l.endswith("| barrier") for l in step_lines]
    assert sum(barriers) == s["n_barriers"] and barriers[-1] and 0 < s["n_barriers"] < len(steps)
    assert d["threads"] == 2 and d["rows_per_call"] == 16 and d["context"] == 96
    # The text and the JSON describe the same steps with the same predicted times.
    for line, st in zip(step_lines, steps):
        f = line.split()
        assert int(f[0]) == st["step"] and f[1] == st["kernel"]
        assert abs(float(f[5 if st["weight"] else 4]) - st["predicted_us"]) < 0.01, (line, st)
    # Totals are the sums of the steps.
    assert abs(sum(st["bytes"] for st in steps) - s["bytes"]) <= 1e-6 * s["bytes"] + len(steps)
    assert abs(sum(st["operations"] for st in steps) - s["operations"]) <= 1e-6 * s["operations"] + len(steps)
    assert all(st["predicted_us"] > 0 for st in steps)
    # Memory plan: every operand inside the arena; sharing makes the arena no bigger than the
    # buffers laid end to end.
    assert 0 < s["arena_bytes"] <= s["buffers_bytes"]
    for st in steps:
        roles = [o["role"] for o in st["operands"]]
        assert roles and roles.count("out") == (st["kernel"] != "kv_store"), st  # kv_store writes the cache
        for o in st["operands"]:
            assert o["offset"] % 64 == 0 and o["offset"] + o["bytes"] <= s["arena_bytes"], (st, o)
        # Tiles: contiguous, covering [0, work) (last_row: thread 0 does it).
        t = st["tiles"]
        assert t[0][0] == 0 and t[-1][1] == st["work"], st
        assert all(a[1] == b[0] for a, b in zip(t, t[1:])), st
    # Against the file, read by the gguf package: weight bytes (each tensor once) and the KV
    # cache from the hyperparameters.
    r = gguf.GGUFReader(model)
    assert s["weight_bytes"] == sum(int(t.n_bytes) for t in r.tensors), s
    kv = lambda key: int(r.fields[key].parts[-1][0])
    n_layer, n_head_kv = kv("llama.block_count"), kv("llama.attention.head_count_kv")
    head_dim = kv("llama.embedding_length") // kv("llama.attention.head_count")
    assert s["kv_cache_bytes"] == n_layer * 2 * 96 * n_head_kv * head_dim * 4
    # Summary lines of the text carry the same figures.
    m = re.search(r"predicted: ([\d.]+) ms per decoded token .*?([\d.]+) ms per (\d+)-token prefill", text)
    assert m, text[-600:]
    assert abs(float(m.group(1)) - s["predicted_decode_ms"]) < 2e-3
    assert abs(float(m.group(2)) - s["predicted_prefill_ms"]) < 0.1
    assert int(m.group(3)) == s["prefill_tokens"] == 96  # the context is shorter than 512


def synthetic_machine(path, gbs=10.0, gmacs=4.0, rate=0.5, barrier=2.0, call=3.0, stream=None, gmacs_256=None,
                      gmacs_288=None, gmacs_640=None, stream_short=None, cold_us=0.0, cold_line_ns=0.0,
                      stretch=1.0, stream_stretch=(1.0, 1.0, 1.0), threads=2, calibrations=1,
                      sizes=(1024, 1 << 30), workload_ms=20.0):
    """Every figure flat: one bandwidth at every size, one matmul rate (rows of 256, a
    partial group: `gmacs_256`, rows of 288 and 640 `gmacs_288`, `gmacs_640`, default gmacs),
    one kernel rate; the one-token products over 16 MiB, 256 MiB and 1 GiB at `stream`
    (default: gmacs) per thread, Q8_0 rows of 288 over 16 MiB at `stream_short` (default: stream);
    cold reads (after every stream size) cold_us + cold_line_ns per line, none by default;
    compute stretched by `stretch` (1: programs run at the kernels' own rates), the streams over the
    three sizes by `stream_stretch` (calibrate's workload took `workload_ms`, which only
    calibrate reads). Figures for 2 threads, saved as `threads` (1 or 2) thread
    counts, as if merged from `calibrations` runs of calibrate, read at `sizes`."""
    stream = gmacs if stream is None else stream
    gmacs_256 = gmacs if gmacs_256 is None else gmacs_256
    gmacs_288 = gmacs if gmacs_288 is None else gmacs_288
    gmacs_640 = gmacs if gmacs_640 is None else gmacs_640
    stream_short = stream if stream_short is None else stream_short
    rates = ["embed", "rmsnorm", "quantize", "add", "rope", "kv_store", "glu_gelu", "glu_silu"]
    types = ["F32", "F16", "BF16", "Q4_0", "Q5_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]
    m = {"format": "lockstep-machine-13", "threads": threads, "calibrations": calibrations, "sizes": list(sizes),
         "read_gbs": [[gbs] * len(sizes), [2 * gbs] * len(sizes)], "barrier_us": [barrier, barrier],
         "call_us": [call, call], "stream_short_gmacs": [stream_short, 2 * stream_short],
         "compute_stretch": [stretch, stretch], "workload_ms": [2 * workload_ms, workload_ms],
         "stream_stretch": [list(stream_stretch)] * 2,
         "matmul_gmacs": {t: [[gmacs] * 4, [2 * gmacs] * 4] for t in types},
         "matmul_gmacs_512": {t: [[gmacs] * 4, [2 * gmacs] * 4] for t in types},
         "matmul_gmacs_256": {t: [[gmacs_256] * 4, [2 * gmacs_256] * 4] for t in types},
         "matmul_gmacs_288": {t: [[gmacs_288] * 4, [2 * gmacs_288] * 4] for t in types},
         "matmul_gmacs_640": {t: [[gmacs_640] * 4, [2 * gmacs_640] * 4] for t in types},
         "rates_g": {r: [rate, 2 * rate] for r in rates},
         "attention_gpairs": [[rate] * 4, [2 * rate] * 4], "attention_grows": [[rate] * 4, [2 * rate] * 4],
         "matmul_stream_gmacs": {t: [[stream] * 3, [2 * stream] * 3] for t in types},
         "cold_us": [[cold_us] * 3] * 2, "cold_line_ns": [[cold_line_ns] * 3] * 2}
    with open(path, "w") as f:
        json.dump(m, f)


def test_cost_model_by_hand():
    """Flat machine: bandwidth B per thread, matmul rate G per thread, kernel rate R per
    thread (aggregates double with 2 threads), overlap 1 (max of memory and compute).
    matmul: memory beyond the calibrated read is 0 (flat bandwidth), so a thread's time is
    outputs * rows times a row's cost: rows of 1024 and 512 at G give no fixed cost and
    512 / G a group, and n_in 256 is one partial group, at the rate G2 of rows of 256;
    glu: max(12 bytes / B, 1 / R) per element."""
    model = tiny_model("llama", "q8_0")  # dim 256: one partial group a row
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        B, G, G2, R, barrier = 10.0, 4.0, 2.5, 0.5, 2.0
        synthetic_machine(path, gbs=B, gmacs=G, rate=R, barrier=barrier, gmacs_256=G2)
        _, d = compile_both(model, "-t", "2", "--batch", "8", "--ctx", "64", "--machine", path)
        assert d["machine"] == path
        rows = 8
        seen = set()
        for st in d["steps"]:
            tiles = [b - a for a, b in st["tiles"]]
            if st["kernel"] == "matmul" and st["weight"].startswith("blk.0.attn_q"):
                want = max(t * 256 * rows for t in tiles) / (G2 * 1e3) + barrier * st["barrier_after"]
            elif st["kernel"] == "glu":  # llama: SiLU
                per_elem = max(12 / (B * 1e3), 1 / (R * 1e3))
                want = max(tiles) * rows * per_elem + barrier * st["barrier_after"]
            else:
                continue
            seen.add(st["kernel"])
            assert abs(st["predicted_us"] - want) < 1e-3 * want, (st, want)
        assert seen == {"matmul", "glu"}
        # compute stretched 1.5x (a program runs slower than its kernels alone), memory
        # not: the matmul 1.5x, the glu, now memory-bound (R 4x higher), unchanged
        R4, S = 4 * R, 1.5
        synthetic_machine(path, gbs=B, gmacs=G, rate=R4, barrier=barrier, gmacs_256=G2, stretch=S)
        text, d = compile_both(model, "-t", "2", "--batch", "8", "--ctx", "64", "--machine", path)
        assert d["summary"]["compute_stretch"] == S and "compute stretched 1.50x" in text, text[-400:]
        checked = 0
        for st in d["steps"]:
            tiles = [b - a for a, b in st["tiles"]]
            if st["kernel"] == "matmul" and st["weight"].startswith("blk.0.attn_q"):
                want = S * max(t * 256 * rows for t in tiles) / (G2 * 1e3) + barrier * st["barrier_after"]
            elif st["kernel"] == "glu":
                assert 12 / (B * 1e3) > S / (R4 * 1e3)
                want = max(tiles) * rows * 12 / (B * 1e3) + barrier * st["barrier_after"]
            else:
                continue
            checked += 1
            assert abs(st["predicted_us"] - want) < 1e-3 * want, (st, want)
        assert checked == 1 + sum(st["kernel"] == "glu" for st in d["steps"])  # blk.0.attn_q, every glu
        synthetic_machine(path, gbs=B, gmacs=G, rate=R, barrier=barrier, gmacs_256=G2)
        _, d = compile_both(model, "-t", "2", "--batch", "8", "--ctx", "64", "--machine", path)
        # The call total: the sum of the steps plus the fixed cost of a call; the prefill of
        # 64 tokens in calls of 8 costs more than 8 calls at position 0 (attention grows).
        s = d["summary"]
        assert s["predicted_prefill_ms"] * 1e3 > 8 * (sum(st["predicted_us"] for st in d["steps"]) + 3.0) * 0.999
        # n_in 640 (Gemma's rows): one group and a last one of 4 blocks, priced as a whole
        # row of 640 at its own rate G3 (the rows of 1024 and 512 at G leave no fixed cost).
        G3 = 1.5
        synthetic_machine(path, gbs=B, gmacs=G, rate=R, barrier=barrier, gmacs_256=G2, gmacs_640=G3)
        _, d = compile_both(tiny_model("llama", "q8_0", dim=640, head_dim=160), "-t", "2", "--batch", "8",
                            "--ctx", "64", "--machine", path)
        q = [st for st in d["steps"] if st["kernel"] == "matmul" and st["weight"].startswith("blk.0.attn_q")][0]
        want = max((b - a) * 640 * rows for a, b in q["tiles"]) / (G3 * 1e3) + barrier * q["barrier_after"]
        assert abs(q["predicted_us"] - want) < 1e-3 * want, (q, want)


def test_cost_model_cold_by_hand():
    """One row a call: a norm step reads its weight cold (the token's weight stream evicted
    it): cold_us + cold_line_ns per 64-byte line, scaled by the working set's place between
    the L2 size (nothing evicted) and 16 MiB in log scale; the thread without the row pays
    nothing. A KV store pays the same for its two rows, a call of 8 rows none of it."""
    model = tiny_model("llama", "q8_0")  # dim 256, 2 KV heads of 64
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        B, R, barrier, CU, CL = 10.0, 0.5, 2.0, 1.5, 20.0
        synthetic_machine(path, gbs=B, rate=R, barrier=barrier, cold_us=CU, cold_line_ns=CL)
        _, d = compile_both(model, "-t", "2", "--batch", "1", "--ctx", "64", "--machine", path)
        ws = d["summary"]["working_set_bytes"]
        l2, llc = 192 * 1024 * 2, 16 * 1024 * 1024
        assert l2 < ws < llc, ws
        f = (math.log(ws) - math.log(l2)) / (math.log(llc) - math.log(l2))
        steps = {(st["kernel"], st.get("weight")): st for st in d["steps"]}
        st = steps[("rmsnorm", "blk.0.attn_norm.weight")]
        hot = max(256 * 8 / (B * 1e3), 256 / (R * 1e3))
        want = hot + f * (CU + CL * (256 * 4 // 64) / 1e3) + barrier * st["barrier_after"]
        assert abs(st["predicted_us"] - want) < 1e-3 * want, (st, want, ws)
        stores = [st for st in d["steps"] if st["kernel"] == "kv_store"]
        kv_elements = 2 * 2 * 64  # k and v rows of 2 heads of 64
        hot = max(kv_elements * 8 / (B * 1e3), kv_elements / (R * 1e3))
        want = hot + f * (CU + CL * (kv_elements * 4 // 64) / 1e3) + barrier * stores[0]["barrier_after"]
        assert abs(stores[0]["predicted_us"] - want) < 1e-3 * want, (stores[0], want)
        # the same machine, calls of 8 rows: no cold term
        _, d8 = compile_both(model, "-t", "2", "--batch", "8", "--ctx", "64", "--machine", path)
        st = [st for st in d8["steps"] if st["kernel"] == "rmsnorm" and st["weight"] == "blk.0.attn_norm.weight"][0]
        rows = max(b - a for a, b in st["tiles"])
        want = rows * max(256 * 8 / (B * 1e3), 256 / (R * 1e3)) + barrier * st["barrier_after"]
        assert abs(st["predicted_us"] - want) < 1e-3 * want, (st, want)


def test_cost_model_one_row_by_hand():
    """One row a call (decode): a matmul thread's time is max(compute, stream) + k (compute +
    stream - l2 - max), stream = tile bytes times the time per weight byte interpolated in
    log(working set) from the L2 rate (at 192 KiB per thread) to the 16 MiB rate, l2 the same
    at the L2 rate. k is what makes Q8_0 rows of 288 over 16 MiB take the calibrated time.
    Flat machine with the streamed rate S, rows of 256 at G2; first S = G / 8 and rows of 288
    at G (k = 1: compute + what streaming costs beyond L2), then rows of 288 at G3 and their
    stream set for k = 1/2; then the same with the 16 MiB stream stretched by X (the host's
    contention): the stream term X times longer, the L2 term and k (fitted on the fastest
    rates) unchanged."""
    model = tiny_model("llama", "q8_0")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        G, G2, barrier = 4.0, 2.5, 2.0
        for S, G3, k, X in ((0.5, G, 1.0, 1.0), (2.0, 1.0, 0.5, 1.0), (2.0, 1.0, 0.5, 1.4)):
            # rows of 288, one thread's us: compute, in L2, streamed; then the measured time
            c288, l2_288, s288 = 288 / (G3 * 1e3), 306 / (G * 1e3 * 34 / 32), 306 / (S * 1e3 * 34 / 32)
            most = max(c288, s288)
            short = 288 / ((most + k * (c288 + s288 - l2_288 - most)) * 1e3)
            synthetic_machine(path, gmacs=G, barrier=barrier, stream=S, gmacs_256=G2, gmacs_288=G3, stream_short=short,
                              stream_stretch=(X, 1.2, 1.3))
            text, d = compile_both(model, "-t", "2", "--batch", "1", "--ctx", "64", "--machine", path)
            assert d["summary"]["stream_stretch"] == [X, 1.2, 1.3], d["summary"]
            assert f"weight streams {X:.2f}x / 1.20x / 1.30x over 16 MiB / 256 MiB / 1 GiB" in text, text[-400:]
            ws = d["summary"]["working_set_bytes"]
            l2, llc = 192 * 1024 * 2, 16 * 1024 * 1024
            assert l2 < ws < llc, ws
            f = (math.log(ws) - math.log(l2)) / (math.log(llc) - math.log(l2))
            per_byte_l2, per_byte_llc = 1 / (G * 1e3 * 34 / 32), X / (S * 1e3 * 34 / 32)
            per_byte = per_byte_l2 + (per_byte_llc - per_byte_l2) * max(f, 0)
            checked = 0
            for st in d["steps"]:
                if st["kernel"] != "matmul" or not st["weight"].startswith("blk.0.attn_q"):
                    continue
                tiles = [b - a for a, b in st["tiles"]]
                n_in = 256  # Q8_0: 8 blocks of 34 bytes a row, one partial group
                bytes_ = max(tiles) * (n_in // 32) * 34
                compute = max(tiles) * n_in / (G2 * 1e3)
                stream, in_l2 = bytes_ * max(per_byte, per_byte_l2), bytes_ * per_byte_l2
                if k == 1.0:
                    assert stream - in_l2 > 0.5 * compute  # both terms count
                most = max(compute, stream)
                want = most + k * (compute + stream - in_l2 - most) + barrier * st["barrier_after"]
                assert abs(st["predicted_us"] - want) < 1e-3 * want, (st, want, ws, k)
                checked += 1
            assert checked == 1


def test_calibrate_then_bench():
    """calibrate merges into the calibrations the file holds: here three made up, with
    rates far below any machine's, every stretch 2 and the workload at 10 s, so the merged
    file holds the new run's rates, (3 x 2 + its stream stretch) / 4, the workload's time
    (3 x 10 s + its own) / 4 and the compute stretch fitted again to that: 10, the most there
    is (the mean would be about 1.8); then bench runs from it."""
    model = tiny_model("llama", "q8_0")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "machine.json")
        kib = (256, 512, 1024, 2048, 4096, 8192, 16384, 24576, 32768, 49152, 65536, 262144)  # calibrate's
        synthetic_machine(path, gbs=1e-3, gmacs=1e-3, rate=1e-3, stretch=2.0, stream_stretch=(2.0, 2.0, 2.0),
                          threads=1, calibrations=3, sizes=[k * 1024 for k in kib], workload_ms=5e3)
        r = ok("calibrate", "-t", "1", "-o", path, timeout=120)
        assert "GB/s" in r.stdout and "barrier" in r.stdout
        assert "merged with " + path + ": 4 calibrations" in r.stderr, r.stderr
        m = json.load(open(path))
        assert m["threads"] == 1 and len(m["read_gbs"]) == 1 and m["calibrations"] == 4
        # the workload in place: its lower quartile, its prediction at the fastest rates, the
        # stretch between (more than 1 when it ran slower than predicted)
        w = re.search(r"in place, 1 thread\(s\): the workload's prefill ([\d.]+)-([\d.]+) ms \((\d+) samples, "
                      r"lower quartile ([\d.]+)\), predicted ([\d.]+) at the calibrated rates: compute stretch ([\d.]+)",
                      r.stdout)
        assert w, r.stdout[-2000:]
        lo, hi, n, quartile, predicted, stretch = (float(x) for x in w.groups())
        assert n >= 3 and 0 < lo <= quartile <= hi and predicted > 0, w.group(0)
        assert 1 <= stretch < 3, w.group(0)
        if quartile > predicted * 1.01:
            assert stretch > 1, w.group(0)
        elif quartile < predicted * 0.99:
            assert stretch == 1, w.group(0)
        merged = (3 * 1e4 + quartile) / 4
        assert abs(m["workload_ms"][0] - merged) < 2e-4 * merged, (m["workload_ms"], quartile)
        assert m["compute_stretch"][0] == 10, m["compute_stretch"]
        # the new run's stream stretches, from the merged means (saved to 4 digits: +-0.002 here)
        m["stream_stretch"][0] = [4 * x - 3 * 2.0 for x in m["stream_stretch"][0]]
        gbs = np.array(m["read_gbs"][0])
        assert (gbs > 0).all() and len(gbs) == len(m["sizes"])
        # physically possible: no core sums 10 TB/s, and DRAM is slower than L2 (a read loop
        # the compiler hoisted out of its repeats once gave 10^13 GB/s for 256 KiB)
        assert (gbs < 10000).all() and gbs[-1] < gbs[0], gbs
        # the merge kept the higher rates: the new run's, not the made-up 0.001
        assert gbs.min() > 1 and all(v[0][g] > 0.1 for v in m["matmul_gmacs"].values() for g in range(4)), m
        # means over fastest runs: at least 1, and no host makes the mean run 3x its best
        assert all(0.99 <= x < 3 for x in m["stream_stretch"][0]), m
        # the one-token products over 16 MiB, 256 MiB and 1 GiB, each type
        assert all(len(v[0]) == 3 and min(v[0]) > 0 for v in m["matmul_stream_gmacs"].values()), m
        assert len(m["stream_stretch"][0]) == 3 and len(m["cold_us"][0]) == 3, m
        env = dict(os.environ, LOCKSTEP_MACHINE=path)
        r = ok("bench", "-m", model, "-t", "1", "-n", "4", "--prefill", "32", "--repeat", "1",
               "--ctx", "64", env=env)
        out = r.stdout
        assert path in out, out
        for what in ("decode", "prefill"):
            m = re.search(what + r" .*?predicted ([\d.]+) ms/token, measured ([\d.]+) ms/token", out)
            assert m, out
            assert float(m.group(1)) > 0 and float(m.group(2)) > 0
        assert re.search(r"compile [\d.]+ ms", out), out
        # the second prediction, from the memory figures measured again before each repeat
        m = re.search(r"memory before each repeat: read ([\d.]+)-([\d.]+) GB/s .*median of the "
                      r"repeats: decode ([\d.]+), prefill ([\d.]+)", out)
        assert m and all(float(g) > 0 for g in m.groups()), out
        assert float(m.group(1)) <= float(m.group(2)), out
        r = ok("bench", "-m", model, "-t", "1", "-n", "2", "--prefill", "8", "--repeat", "1",
               "--ctx", "64", "--fixed", env=env)
        assert "memory before" not in r.stdout and "predicted" in r.stdout


def test_bench_steps():
    """bench --steps: a table per call (decode, prefill) with every kernel the program runs,
    its step count the compiled program's, and an "all" line summing the kernels' times."""
    model = tiny_model("llama", "q8_0")
    d = json.loads(ok("compile", "--json", "-m", model, "-t", "1", "--batch", "16", "--ctx", "64").stdout)
    kernels = {}
    for st in d["steps"]:
        kernels[st["kernel"]] = kernels.get(st["kernel"], 0) + 1
    out = ok("bench", "-m", model, "--steps", "--fixed", "--repeat", "2", "-n", "2", "--prefill", "16",
             "--batch", "16", "--ctx", "64").stdout
    for call in ("decode call", "prefill call"):
        table = out[out.index(call):].split("\n")[1:len(kernels) + 2]
        rows = {}
        for line in table:
            m = re.match(r"\s+(\w+)\s+(\d+) steps: predicted\s+([\d.]+) ms, measured\s+([\d.]+) ms", line)
            assert m, (call, line, out)
            rows[m.group(1)] = (int(m.group(2)), float(m.group(3)), float(m.group(4)))
        assert {k: v[0] for k, v in rows.items() if k != "all"} == kernels, (rows, kernels)
        assert rows["all"][0] == len(d["steps"]), rows
        assert rows["all"][2] > 0 and abs(rows["all"][2] - sum(v[2] for k, v in rows.items() if k != "all")) < 0.01, rows


def test_bench_trace():
    """bench --trace: for a prefill and the decode, one line per kernel the program runs with
    its step count, then all steps, the barriers and the call; the counts are the compiled
    program's (compile --json with the same flags), every time a possible one (not negative,
    which a misplaced counter read would give, nor beyond the call)."""
    model = tiny_model("llama", "q8_0")
    flags = ("-m", model, "-t", "2", "--batch", "16", "--ctx", "64")
    d = json.loads(ok("compile", "--json", *flags).stdout)
    kernels = {}
    for st in d["steps"]:
        kernels[st["kernel"]] = kernels.get(st["kernel"], 0) + 1
    out = ok("bench", *flags, "-n", "4", "--prompt-tokens", "4", "--prefill", "32", "--repeat", "1",
             "--fixed", "--trace").stdout
    sections = out.split("trace, ")[1:]
    assert [s.split(":")[0] for s in sections] == ["decode calls", "prefill calls"], out
    for s, calls in zip(sections, (4, 2)):
        assert s.startswith(f"{s.split(':')[0]}: per call, the mean of {calls}\n"), s
        rows = re.findall(r"^  (\w+) +(\d+) steps: predicted +([\d.]+) ms, slowest thread +([\d.]+) ms", s, re.M)
        assert {k: int(n) for k, n, _, _ in rows if k != "steps"} == kernels, (rows, kernels)
        assert rows[-1][0] == "steps" and int(rows[-1][1]) == len(d["steps"])
        m = re.search(r"^  (\d+) barriers: threads arriving apart ([\d.]+) ms, barrier exits ([\d.]+) ms", s, re.M)
        assert m and int(m.group(1)) == d["summary"]["n_barriers"], s
        call = re.search(r"^  call: predicted ([\d.]+) ms, measured ([\d.]+) ms", s, re.M)
        assert call, s
        measured = float(call.group(2))
        assert 0 < measured < 10000, s
        assert float(m.group(2)) <= measured and float(m.group(3)) <= measured, s
        assert all(float(meas) <= 2 * measured for _, _, _, meas in rows), s
        # each thread's work fits in the call, and every barrier has one last thread
        w = re.search(r"^  each thread's work \(ms per call\) and the barriers it reached last: "
                      r"\[0\] ([\d.]+), (\d+) \[1\] ([\d.]+), (\d+)$", s, re.M)
        assert w, s
        assert all(0 < float(w.group(g)) <= measured for g in (1, 3)), s
        assert int(w.group(2)) + int(w.group(4)) == calls * d["summary"]["n_barriers"], s
