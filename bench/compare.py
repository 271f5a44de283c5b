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
  roofline bytes one decoded token must read (every weight the step uses, plus the KV cache
           it reads) / read bandwidth, as a percentage of the measured time per token.
           The host's bandwidth moves from minute to minute (26-53 GB/s here), so the two
           are measured in the same seconds: after the timed decode, each driver feeds the
           prompt again and decodes 64 tokens in blocks of 8, each block followed by a
           0.25 s rest (both engines' threads spin a while after a call) and 8 read passes
           over a buffer of those bytes with the same thread count (bench/read_pass.c, 2 MiB
           pages like lockstep's packed weights); the first token and the first pass of
           each block are not counted (the caches are full of the other's data). Roofline
           = time of the passes / time of the tokens. The cache-resident model is the
           exception: reads between its tokens would evict it, so it is held to the best of
           20 passes measured beside each run (before llama.cpp's, after lockstep's). Each
           repetition gives one roofline, the table the median; "read GB/s" is the median
           bandwidth of the passes.

Models: the default Gemma 3 270M Q4_K_M (models/default.gguf), and random-weight llama-shaped
models made with tools/make_tiny_model.py into build/bench-models/ (made once, then reused):
  llama1b-q4_0, llama1b-q8_0   dim 2048, 22 layers, 32 heads / 4 KV heads, ffn 5632,
                               vocab 32000 (a TinyLlama-1.1B shape)
  llama-small-q8_0             dim 288, 6 layers, 6 heads, ffn 768, vocab 32000: ~25 MiB,
                               fits the last-level cache

The lockstep side is bench/compare_driver.c (built here against build/liblockstep.a); the
read passes are bench/read_pass.c, linked into the driver and loaded into the llama.cpp worker
as build/bench-models/libread_pass.so; the llama.cpp side calls llama_decode through
llama-cpp-python's low-level API with n_batch = n_ubatch = 512 and flash attention off, and
picks each token by argmax over the logits, like the driver does. Neither side's load time is counted; both do one warm-up call.
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
READ_PASS = os.path.join(MODELS_DIR, "libread_pass.so")
sys.path.insert(0, os.path.join(ROOT, "tools"))

PROMPT, DECODE, PREFILL = 16, 128, 512
PAIRED, PAIR_BLOCK, PAIR_REST_S = 64, 8, 0.25  # as compare_driver.c's PAIR_BLOCK, PAIR_REST_MS
RESIDENT = {"llama-small-q8_0"}  # fits the last-level cache: roofline against a probe beside

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
    sources = [os.path.join(ROOT, "bench", f) for f in ("compare_driver.c", "read_pass.c",
                                                        "read_pass.h")]
    if not os.path.exists(lib):
        sys.exit("compare.py: build/liblockstep.a is missing (run make)")
    newest = max(os.path.getmtime(f) for f in sources + [lib])
    if all(os.path.exists(f) and os.path.getmtime(f) > newest for f in (DRIVER, READ_PASS)):
        return
    os.makedirs(MODELS_DIR, exist_ok=True)
    flags = ["gcc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra",
             "-I" + os.path.join(ROOT, "src")]
    subprocess.run(flags + ["-o", DRIVER, sources[0], sources[1], lib, "-lpthread", "-lm"],
                   check=True)
    subprocess.run(flags + ["-shared", "-fPIC", "-o", READ_PASS, sources[1],
                            os.path.join(ROOT, "src", "base", "huge_pages.c"), "-lpthread"],
                   check=True)


def read_pass_library():
    import ctypes

    lib = ctypes.CDLL(READ_PASS)
    lib.lsb_reader_create.restype = ctypes.c_void_p
    lib.lsb_reader_create.argtypes = [ctypes.c_size_t, ctypes.c_int]
    lib.lsb_reader_pass_ms.restype = ctypes.c_double
    lib.lsb_reader_pass_ms.argtypes = [ctypes.c_void_p]
    lib.lsb_reader_free.argtypes = [ctypes.c_void_p]
    return lib


# ---- what a decoded token reads ---------------------------------------------------------

def bytes_per_token(path, decoded):
    """Weight bytes one decode step reads (the embedding table only counts when it is also
    the output matrix) plus the mean KV cache bytes read over `decoded` tokens after the
    prompt (f32 keys and values, as lockstep stores them; sliding-window layers see at most
    their window)."""
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
                   for p in range(PROMPT, PROMPT + decoded)]
        mean_kv += statistics.mean(visible) * 2 * n_head_kv * head_dim * 4
    return weights + mean_kv


# ---- the two engines --------------------------------------------------------------------

def parse(stdout):
    """compare_driver's line (the llama.cpp worker prints the same) as a dict of floats."""
    out = stdout.split()
    return dict(zip(out[0::2], map(float, out[1::2])))


def run_lockstep(path, threads, paired_bytes):
    args = [DRIVER, path, str(threads), str(PROMPT), str(DECODE), str(PREFILL)]
    if paired_bytes:
        args += [str(PAIRED), str(int(paired_bytes))]
    return parse(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def llama_worker(path, threads, paired_bytes):
    """Runs in its own process; prints the same line as compare_driver, and measures the
    same way (see there)."""
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
    line = f"prefill_ms {prefill_ms:.3f} ttft_ms {ttft_ms:.3f} decode_ms {decode_ms:.3f}"
    if paired_bytes:
        lib = read_pass_library()
        reader = lib.lsb_reader_create(int(paired_bytes), threads)
        if not reader:
            raise RuntimeError("cannot make the read buffer")
        token_ms = read_ms = 0.0
        clear()
        token = decode(tokens[:PROMPT])
        for _ in range(0, PAIRED, PAIR_BLOCK):
            for b in range(PAIR_BLOCK):
                start = time.perf_counter()
                token = decode([token])
                if b:
                    token_ms += (time.perf_counter() - start) * 1e3
            time.sleep(PAIR_REST_S)
            for b in range(PAIR_BLOCK):
                ms = lib.lsb_reader_pass_ms(reader)
                if ms < 0:
                    raise RuntimeError("cannot start the read threads")
                if b:
                    read_ms += ms
        lib.lsb_reader_free(reader)
        line += f" paired_token_ms {token_ms:.3f} paired_read_ms {read_ms:.3f}"
    print(line)
    llm.close()


def run_llama(path, threads, paired_bytes):
    args = [sys.executable, os.path.abspath(__file__), "--llama-worker", path, "-t", str(threads)]
    if paired_bytes:
        args += ["--paired-bytes", str(int(paired_bytes))]
    return parse(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def probe_bandwidth(n_bytes, threads):
    """Best of 20 read passes over n_bytes (after one), in bytes/s: the cache-resident
    model's bandwidth, measured beside its runs."""
    lib = read_pass_library()
    reader = lib.lsb_reader_create(int(n_bytes), threads)
    if not reader:
        sys.exit("compare.py: cannot make the read buffer")
    passes = [lib.lsb_reader_pass_ms(reader) for _ in range(21)]
    if min(passes) < 0:
        sys.exit("compare.py: cannot start the read threads")
    best = min(passes[1:])
    lib.lsb_reader_free(reader)
    return n_bytes / (best / 1e3)


# ---- the table --------------------------------------------------------------------------

def measure(name, threads, reps):
    path = ensure_model(name)
    resident = name in RESIDENT
    n_bytes = bytes_per_token(path, DECODE if resident else PAIRED)
    paired_bytes = None if resident else n_bytes
    counted = PAIRED // PAIR_BLOCK * (PAIR_BLOCK - 1)  # tokens and passes each driver times
    runs = {"llama.cpp": [], "lockstep": []}
    rooflines = {"llama.cpp": [], "lockstep": []}
    bws = []
    for rep in range(reps):
        if resident:
            bws.append(probe_bandwidth(n_bytes, threads))
        runs["llama.cpp"].append(run_llama(path, threads, paired_bytes))
        runs["lockstep"].append(run_lockstep(path, threads, paired_bytes))
        if resident:
            bws.append(probe_bandwidth(n_bytes, threads))
        for engine, r in ((e, v[-1]) for e, v in runs.items()):
            if resident:  # against the probe beside the run
                bw = bws[-1] if engine == "lockstep" else bws[-2]
                rooflines[engine].append(n_bytes * DECODE / (r["decode_ms"] / 1e3) / bw)
            else:
                rooflines[engine].append(r["paired_read_ms"] / r["paired_token_ms"])
                bws.append(n_bytes * counted / (r["paired_read_ms"] / 1e3))
        log(f"  {name} rep {rep + 1}/{reps}: " + ", ".join(
            f"{e} {v[-1]['prefill_ms']:.0f}/{v[-1]['ttft_ms']:.1f}/{v[-1]['decode_ms']:.0f} ms "
            f"roofline {100 * rooflines[e][-1]:.0f}%" for e, v in runs.items())
            + " (prefill/ttft/decode)")
    row = {"model": name, "bytes_per_token": n_bytes, "bandwidth": statistics.median(bws)}
    for engine, rs in runs.items():
        row[engine] = {
            "decode": statistics.median(DECODE / (r["decode_ms"] / 1e3) for r in rs),
            "prefill": statistics.median(PREFILL / (r["prefill_ms"] / 1e3) for r in rs),
            "ttft_ms": statistics.median(r["ttft_ms"] for r in rs),
            "roofline": statistics.median(rooflines[engine]),
        }
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
    ap.add_argument("--paired-bytes", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.llama_worker:
        llama_worker(args.llama_worker, args.threads, args.paired_bytes)
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
