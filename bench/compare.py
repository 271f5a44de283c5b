#!/usr/bin/env python3
"""compare.py — lockstep against llama.cpp (llama-cpp-python) on the same GGUF files.

  make bench                       (builds build/lockstep, then runs this with the defaults)
  .venv/bin/python bench/compare.py [-t 2] [--reps 3] [--models gemma,llama1b-q4_0,...]
                                    [--markdown FILE]

For every model, both engines run with the same thread count, interleaved (rep 1: llama.cpp
then lockstep, rep 2: the same, ...), each in a fresh process, and the table shows medians:

  decode   tok/s of 128 greedy tokens after a 16-token prompt (one token per call)
  prefill  tok/s of one 512-token call
  ttft     time to first token: the 16-token prompt plus picking the first token
  roofline bytes one decoded token must read (every weight the step uses, plus the mean KV
           cache it reads over the 128 positions) / measured read bandwidth, as a
           percentage of the measured time per token. The bandwidth is measured by
           compare_driver --bandwidth over a buffer as big as those bytes, with the same
           thread count, so a model that fits the last-level cache is held to the cache's
           bandwidth, and one that does not, to DRAM's; it is measured beside every run
           (before llama.cpp's, after lockstep's: the host's bandwidth moves from minute to
           minute) and each run is held to its own, then the median is taken. The "read
           GB/s" column is the median of all of them.

Models: the default Gemma 3 270M Q4_K_M (models/default.gguf), and random-weight llama-shaped
models made with tools/make_tiny_model.py into build/bench-models/ (made once, then reused):
  llama1b-q4_0, llama1b-q8_0   dim 2048, 22 layers, 32 heads / 4 KV heads, ffn 5632,
                               vocab 32000 (a TinyLlama-1.1B shape)
  llama-small-q8_0             dim 288, 6 layers, 6 heads, ffn 768, vocab 32000: ~25 MiB,
                               fits the last-level cache

The lockstep side is bench/compare_driver.c (built here against build/liblockstep.a); the
llama.cpp side calls llama_decode through llama-cpp-python's low-level API with
n_batch = n_ubatch = 512 and flash attention off, and picks each token by argmax over the
logits, like the driver does. Neither side's load time is counted; both do one warm-up call.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
MODELS_DIR = os.path.join(BUILD, "bench-models")
DRIVER = os.path.join(MODELS_DIR, "compare_driver")
sys.path.insert(0, os.path.join(ROOT, "tools"))

PROMPT, DECODE, PREFILL = 16, 128, 512

LLAMA_1B = dict(dim=2048, n_layer=22, n_head=32, n_head_kv=4, head_dim=64, ffn=5632,
                vocab_size=32000, ctx=2048)
LLAMA_SMALL = dict(dim=288, n_layer=6, n_head=6, n_head_kv=6, head_dim=48, ffn=768,
                   vocab_size=32000, ctx=2048)

# name -> (file, make_tiny_model arguments or None for a file that must exist)
MODELS = {
    "gemma": (os.path.join(ROOT, "models", "default.gguf"), None),
    "llama1b-q4_0": (os.path.join(MODELS_DIR, "llama1b-q4_0.gguf"), ("q4_0", LLAMA_1B)),
    "llama1b-q8_0": (os.path.join(MODELS_DIR, "llama1b-q8_0.gguf"), ("q8_0", LLAMA_1B)),
    "llama-small-q8_0": (os.path.join(MODELS_DIR, "llama-small-q8_0.gguf"),
                         ("q8_0", LLAMA_SMALL)),
}
DESCRIPTION = {
    "gemma": "Gemma 3 270M Q4_K_M",
    "llama1b-q4_0": "llama 1B-class Q4_0 (random)",
    "llama1b-q8_0": "llama 1B-class Q8_0 (random)",
    "llama-small-q8_0": "llama small Q8_0, cache-resident (random)",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def padded_bpe_vocab(trained):
    """tools/test_vocab.py trains its BPE on a small text, so it stops short of 32000
    tokens: this wraps it to append unused tokens ("<|bench_unused_N|>", never produced by a
    merge) up to the vocab_size asked, so the output matrix has the real model's size."""
    def add_bpe_vocab(writer, pre="llama-bpe", vocab_size=1000):
        class Padding:
            def __getattr__(self, name):
                return getattr(writer, name)

            def add_token_list(self, tokens):
                self.n = len(tokens)
                writer.add_token_list(list(tokens) + [f"<|bench_unused_{i}|>"
                                                      for i in range(vocab_size - len(tokens))])

            def add_token_types(self, types):
                writer.add_token_types(list(types) + [types[0]] * (vocab_size - len(types)))

        trained(Padding(), pre=pre, vocab_size=vocab_size)
        return vocab_size
    return add_bpe_vocab


def ensure_model(name):
    path, spec = MODELS[name]
    if os.path.exists(path):
        return path
    if spec is None:
        sys.exit(f"compare.py: {path} is missing (run scripts/setup.sh)")
    import test_vocab
    from make_tiny_model import make_tiny_model

    weight_type, dims = spec
    os.makedirs(MODELS_DIR, exist_ok=True)
    log(f"making {path} ...")
    start = time.time()
    trained = test_vocab.add_bpe_vocab
    test_vocab.add_bpe_vocab = padded_bpe_vocab(trained)
    try:
        make_tiny_model(path, "llama", weight_type, seed=0, vocab="bpe", **dims)
    finally:
        test_vocab.add_bpe_vocab = trained
    log(f"  {os.path.getsize(path) / 2**20:.0f} MiB in {time.time() - start:.0f} s")
    return path


def build_driver():
    lib = os.path.join(BUILD, "liblockstep.a")
    src = os.path.join(ROOT, "bench", "compare_driver.c")
    if not os.path.exists(lib):
        sys.exit("compare.py: build/liblockstep.a is missing (run make)")
    if (os.path.exists(DRIVER) and os.path.getmtime(DRIVER) > os.path.getmtime(lib)
            and os.path.getmtime(DRIVER) > os.path.getmtime(src)):
        return
    os.makedirs(MODELS_DIR, exist_ok=True)
    subprocess.run(["gcc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                    "-I" + os.path.join(ROOT, "src"), "-o", DRIVER, src, lib,
                    "-lpthread", "-lm"], check=True)


# ---- what a decoded token reads ---------------------------------------------------------

def bytes_per_token(path):
    """Weight bytes one decode step reads (the embedding table only counts when it is also
    the output matrix) plus the mean KV cache bytes read over the decoded positions
    (f32 keys and values, as lockstep stores them; sliding-window layers see at most their
    window)."""
    import gguf

    r = gguf.GGUFReader(path)
    names = {t.name: t for t in r.tensors}
    tied = "output.weight" not in names
    weights = sum(int(t.n_bytes) for t in r.tensors
                  if t.name != "token_embd.weight" or tied)

    def field(suffix):
        for k, f in r.fields.items():
            if k.endswith(suffix):
                return int(f.parts[f.data[0]][0])
        return None

    n_layer = field(".block_count")
    n_head_kv = field(".attention.head_count_kv") or field(".attention.head_count")
    head_dim = field(".attention.key_length") or (
        field(".embedding_length") // field(".attention.head_count"))
    window = field(".attention.sliding_window")
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    mean_kv = 0.0
    for i in range(n_layer):
        local = arch == "gemma3" and window and (i + 1) % 6 != 0
        visible = [min(p + 1, window) if local else p + 1
                   for p in range(PROMPT, PROMPT + DECODE)]
        mean_kv += statistics.mean(visible) * 2 * n_head_kv * head_dim * 4
    return weights + mean_kv


# ---- the two engines --------------------------------------------------------------------

def run_lockstep(path, threads):
    out = subprocess.run([DRIVER, path, str(threads), str(PROMPT), str(DECODE), str(PREFILL)],
                         check=True, capture_output=True, text=True).stdout.split()
    v = dict(zip(out[0::2], map(float, out[1::2])))
    return v["prefill_ms"], v["ttft_ms"], v["decode_ms"]


def llama_worker(path, threads):
    """Runs in its own process; prints the same line as compare_driver."""
    import ctypes

    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=path, n_ctx=PREFILL + PROMPT + DECODE, n_batch=PREFILL,
                          n_ubatch=PREFILL, n_threads=threads, n_threads_batch=threads,
                          flash_attn=False, verbose=False)
    ctx = llm._ctx.ctx
    n_vocab = llm.n_vocab()
    tokens = [(i * 7919 + 13) % n_vocab for i in range(PREFILL + PROMPT + DECODE)]

    def clear():
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)

    def decode(ids):
        arr = (llama_cpp.llama_token * len(ids))(*ids)
        if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(ids))) != 0:
            raise RuntimeError("llama_decode failed")
        p = llama_cpp.llama_get_logits_ith(ctx, -1)
        logits = np.ctypeslib.as_array(ctypes.cast(p, ctypes.POINTER(ctypes.c_float)),
                                       shape=(n_vocab,))
        return int(np.argmax(logits))

    decode(tokens[:PROMPT])  # warm-up
    clear()
    start = time.perf_counter()
    decode(tokens[:PREFILL])
    prefill_ms = (time.perf_counter() - start) * 1e3
    clear()
    start = time.perf_counter()
    token = decode(tokens[:PROMPT])
    ttft_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    for _ in range(DECODE):
        token = decode([token])
    decode_ms = (time.perf_counter() - start) * 1e3
    print(f"prefill_ms {prefill_ms:.3f} ttft_ms {ttft_ms:.3f} decode_ms {decode_ms:.3f}")
    llm.close()


def run_llama(path, threads):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--llama-worker", path,
                          "-t", str(threads)], check=True, capture_output=True,
                         text=True).stdout.split()
    v = dict(zip(out[0::2], map(float, out[1::2])))
    return v["prefill_ms"], v["ttft_ms"], v["decode_ms"]


def bandwidth(n_bytes, threads):
    mib = max(1, int(n_bytes / 2**20 + 0.5))
    out = subprocess.run([DRIVER, "--bandwidth", str(mib), str(threads)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[1]) * 1e9


# ---- the table --------------------------------------------------------------------------

def measure(name, threads, reps):
    path = ensure_model(name)
    n_bytes = bytes_per_token(path)
    results = {"llama.cpp": [], "lockstep": []}
    bws = {"llama.cpp": [], "lockstep": []}  # measured next to each engine's run
    for rep in range(reps):
        bws["llama.cpp"].append(bandwidth(n_bytes, threads))
        results["llama.cpp"].append(run_llama(path, threads))
        results["lockstep"].append(run_lockstep(path, threads))
        bws["lockstep"].append(bandwidth(n_bytes, threads))
        log(f"  {name} rep {rep + 1}/{reps}: llama.cpp {results['llama.cpp'][-1]}, "
            f"lockstep {results['lockstep'][-1]} (prefill, ttft, decode ms)")
    all_bws = bws["llama.cpp"] + bws["lockstep"]
    row = {"model": name, "bytes_per_token": n_bytes, "bandwidth": statistics.median(all_bws)}
    for engine, runs in results.items():
        row[engine] = {
            "decode": statistics.median(DECODE / (r[2] / 1e3) for r in runs),
            "prefill": statistics.median(PREFILL / (r[0] / 1e3) for r in runs),
            "ttft_ms": statistics.median(r[1] for r in runs),
        }
        # each repetition against the bandwidth measured beside it (the host's bandwidth
        # moves from minute to minute), then the median
        row[engine]["roofline"] = statistics.median(
            n_bytes * (DECODE / (r[2] / 1e3)) / bw for r, bw in zip(runs, bws[engine]))
    return row


def table(rows, threads, reps):
    lines = [
        f"{threads} threads, {reps} interleaved repetitions, medians. decode: {DECODE} tokens "
        f"after a {PROMPT}-token prompt; prefill: one {PREFILL}-token call; ttft: the "
        f"{PROMPT}-token prompt plus the first token.",
        "",
        "| model | MiB/token | read GB/s | decode tok/s llama.cpp | decode tok/s lockstep "
        "| ratio | roofline llama.cpp | roofline lockstep | prefill tok/s llama.cpp "
        "| prefill tok/s lockstep | ratio | ttft ms llama.cpp | ttft ms lockstep |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, b = r["llama.cpp"], r["lockstep"]
        lines.append(
            f"| {DESCRIPTION[r['model']]} | {r['bytes_per_token'] / 2**20:.1f} "
            f"| {r['bandwidth'] / 1e9:.1f} | {a['decode']:.1f} | {b['decode']:.1f} "
            f"| {b['decode'] / a['decode']:.2f}x | {100 * a['roofline']:.0f}% "
            f"| {100 * b['roofline']:.0f}% | {a['prefill']:.1f} | {b['prefill']:.1f} "
            f"| {b['prefill'] / a['prefill']:.2f}x | {a['ttft_ms']:.1f} | {b['ttft_ms']:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated, from: " + ", ".join(MODELS))
    ap.add_argument("--json", help="also write the raw medians here")
    ap.add_argument("--llama-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.llama_worker:
        llama_worker(args.llama_worker, args.threads)
        return
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in MODELS:
            print(f"compare.py: unknown model '{m}' (one of {', '.join(MODELS)})",
                  file=sys.stderr)
            sys.exit(2)
    if args.threads < 1 or args.reps < 1:
        print("compare.py: --threads and --reps must be at least 1", file=sys.stderr)
        sys.exit(2)
    build_driver()
    rows = []
    for name in names:
        log(f"{name}:")
        rows.append(measure(name, args.threads, args.reps))
    print(table(rows, args.threads, args.reps))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
