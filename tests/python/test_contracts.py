"""The determinism and static-memory contracts (docs: DESIGN.md, "Contracts" 1 and 2).

Determinism — memcmp of the raw logits of `lockstep eval --logits-out`, and equality of the
text of `lockstep run`:
  * every architecture (llama with a SentencePiece vocabulary, llama3 with byte-level BPE,
    qwen2, qwen3, gemma3) and every weight type (f32 f16 bf16 q4_0 q5_0 q8_0 q4_k q5_k q6_k
    mixed), on tiny random models of 24 tokens: a baseline (2 threads, the whole prompt in
    one call, the best code path) against itself run again, and against a covering set of
    variants rather than the full cross product: {1 thread, token by token, scalar},
    {3 threads, chunks of 7, AVX2}, {8 threads, one call, AVX-512},
    {4 threads, chunks of 7, --ctx 200 instead of 24};
  * the real default model (Gemma 3 270M Q4_K_M) on 64 tokens of the GPL-3: 1 vs 2 threads,
    token by token vs one call of 64, chunks of 7 on AVX2 with 3 threads, --ctx 128, and
    the scalar path on the first 16 tokens, compared with the first 16 rows of the
    64-token baseline (a prefix evaluated alone gives the same rows);
  * sampled text (`run --temp 1 --seed S`) under the same kinds of variants.
The code path is chosen by LOCKSTEP_ISA; the test reads the path and thread count that
lockstep reports on stderr, so a variable that was silently ignored would fail it.

No libm in the engine — nm on every object of build/liblockstep.a: no undefined symbol
that libm (or libmvec) defines. The detector is checked on a probe object that calls expf
and tanhf. (The error bounds of the project's own functions are checked by
tests/unit/test_fmath.c.)

Static memory — `lockstep run` generating 8 and 256 tokens under strace -f -c and an
LD_PRELOAD shim (tests/python/alloc_counter.c) counting malloc/calloc/realloc/free/
posix_memalign/aligned_alloc/memalign/mmap/munmap/mremap/sbrk: every count equal, and every
system call count equal but write's (the output), for the default model and a tiny BPE
model, with as many threads as CPUs allow up to 2 (more threads than CPUs yield the CPU in
the barrier: a system call, see src/run/runtime.c).

Not covered: batch invariance across sequences (a sequence decoded alone or batched with
others): the runtime runs one sequence per call.
"""
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from common import DEFAULT_MODEL, GPL3, LOCKSTEP, ROOT, TINY_MODELS, tiny_model, write_ids

N_TOKENS = 24
TOKEN_SEED = 99

# name: (arch, vocab, weight type, dims); the same models as test_models.py (cached files).
# Every weight type appears at least once, every architecture at least twice.
MODELS = TINY_MODELS


# ---------------------------------------------------------------------------------------
# Code paths and running lockstep with one chosen

def cpu_isas():
    """The LOCKSTEP_ISA values this CPU runs (src/quant/cpu.c's requirements)."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    isas = ["scalar"]
    if {"avx2", "fma", "f16c"} <= flags:
        isas.append("avx2")
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "f16c"} <= flags:
        isas.append("avx512")
    return isas


ISAS = cpu_isas()
BEST = ISAS[-1]


def isa(name):
    """name if this CPU has it, else the best it has (said once on stdout)."""
    if name in ISAS:
        return name
    print(f"# note: this CPU lacks {name}; {BEST} stands in for it")
    return BEST


def lockstep(args, isa_name, threads, timeout=600):
    """Runs lockstep with LOCKSTEP_ISA and -t; checks it reports that path and count."""
    env = dict(os.environ, LOCKSTEP_ISA=isa_name)
    r = subprocess.run([LOCKSTEP, *args, "-t", str(threads)], cwd=ROOT, env=env,
                       capture_output=True, timeout=timeout)
    stderr = r.stderr.decode(errors="replace")
    assert r.returncode == 0, f"lockstep {' '.join(args)} exited {r.returncode}: {stderr[-1500:]}"
    assert f"{threads} threads, {isa_name}" in stderr, \
        f"lockstep did not report '{threads} threads, {isa_name}': {stderr[-500:]}"
    return r.stdout, stderr


def eval_bits(model, ids, threads, batch, isa_name, ctx=None):
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = os.path.join(tmp, "ids.txt")
        out = os.path.join(tmp, "logits.f32")
        write_ids(ids_path, ids)
        args = ["eval", "-m", model, "--tokens", ids_path, "--logits-out", out,
                "--batch", str(batch)]
        if ctx:
            args += ["--ctx", str(ctx)]
        lockstep(args, isa_name, threads)
        with open(out, "rb") as f:
            return f.read()


def check_logits_meaningful(bits, n_tokens):
    """Identical garbage would pass a memcmp: the rows must be finite and differ."""
    x = np.frombuffer(bits, dtype="<f4").reshape(n_tokens, -1)
    assert np.isfinite(x).all(), "non-finite logits"
    assert x.std() > 0.01, f"logits nearly constant (std {x.std():.3g})"
    assert not (x[1:] == x[0]).all(), "every position has the same logits"


def first_difference(a, b):
    if len(a) != len(b):
        return f"sizes {len(a)} vs {len(b)} bytes"
    x, y = np.frombuffer(a, dtype="<f4"), np.frombuffer(b, dtype="<f4")
    i = int(np.flatnonzero(x.view(np.uint32) != y.view(np.uint32))[0])
    return (f"{int((x.view(np.uint32) != y.view(np.uint32)).sum())} floats differ, first at "
            f"index {i}: {x[i]!r} vs {y[i]!r}, max |diff| {np.abs(x - y).max():.3g}")


# ---------------------------------------------------------------------------------------
# Determinism on tiny models: every architecture and weight type

def tiny_variants(n):
    """(label, threads, batch, isa, ctx) against the baseline (2, n, best, default ctx)."""
    return [
        ("the same again", 2, n, BEST, None),
        ("1 thread, token by token, scalar", 1, 1, "scalar", None),
        ("3 threads, chunks of 7, avx2", 3, 7, isa("avx2"), None),
        ("8 threads, one call, avx512", 8, n, isa("avx512"), None),
        ("4 threads, chunks of 7, --ctx 200", 4, 7, BEST, 200),
    ]


def check_tiny_model(name):
    arch, vocab, wtype, dims = MODELS[name]
    path = tiny_model(arch, wtype, seed=0, vocab=vocab, **dims)
    import gguf

    n_vocab = len(gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].data)
    ids = np.random.default_rng(TOKEN_SEED).integers(0, n_vocab, N_TOKENS).tolist()
    base = eval_bits(path, ids, 2, N_TOKENS, BEST)
    check_logits_meaningful(base, N_TOKENS)
    for label, threads, batch, isa_name, ctx in tiny_variants(N_TOKENS):
        bits = eval_bits(path, ids, threads, batch, isa_name, ctx)
        assert bits == base, f"{name}: logits with {label} differ: {first_difference(base, bits)}"


def _make_tiny_test(name):
    def test():
        check_tiny_model(name)
    test.__name__ = f"test_determinism_{name}"
    return test


for _name in MODELS:
    globals()[f"test_determinism_{_name}"] = _make_tiny_test(_name)


def test_run_text_identical_across_threads_batches_isas_tiny():
    """The sampled text, on one SentencePiece and one BPE model (prompt of ~10 tokens)."""
    for arch, vocab, wtype in (("llama", "spm", "q4_0"), ("qwen3", "bpe", "q6_k")):
        path = tiny_model(arch, wtype, seed=0, vocab=vocab)
        common = ["run", "-m", path, "-p", "The quick brown fox jumps over", "-n", "24",
                  "--temp", "1.0", "--seed", "5"]
        base, _ = lockstep(common, BEST, 2)
        assert len(base) > len("The quick brown fox jumps over") + 5, base
        for threads, batch, isa_name, ctx in ((1, 1, "scalar", None), (3, 7, isa("avx2"), None),
                                              (8, 3, isa("avx512"), 200)):
            extra = ["--batch", str(batch)] + (["--ctx", str(ctx)] if ctx else [])
            out, _ = lockstep(common + extra, isa_name, threads)
            assert out == base, (f"{arch}/{vocab}: text with -t {threads} --batch {batch} "
                                 f"{isa_name} differs:\n{base!r}\n{out!r}")


# ---------------------------------------------------------------------------------------
# Determinism on the real default model

def gpl3_ids(n):
    with open(GPL3, "rb") as f:
        text = f.read(2000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "text.txt")
        with open(path, "wb") as f:
            f.write(text)
        out = subprocess.run([LOCKSTEP, "tokenize", "-m", DEFAULT_MODEL, "-f", path],
                             capture_output=True, check=True).stdout
    ids = [int(t) for t in out.split()]
    assert len(ids) >= n, f"{len(ids)} tokens in 2000 bytes of the GPL-3"
    return ids[:n]


def test_default_model_logits_bit_identical():
    n = 64
    ids = gpl3_ids(n)
    base = eval_bits(DEFAULT_MODEL, ids, 2, n, BEST)
    check_logits_meaningful(base, n)
    for label, threads, batch, isa_name, ctx in (
            ("1 thread, token by token", 1, 1, BEST, None),
            ("3 threads, chunks of 7, avx2", 3, 7, isa("avx2"), None),
            ("8 threads, --ctx 128", 8, n, BEST, 128)):
        bits = eval_bits(DEFAULT_MODEL, ids, threads, batch, isa_name, ctx)
        assert bits == base, f"default model, {label}: {first_difference(base, bits)}"
    # The scalar path is ~20x slower: the first 16 tokens alone, against the baseline's
    # first 16 rows (causal attention: a prefix alone gives the same rows, bit for bit).
    m = 16
    bits = eval_bits(DEFAULT_MODEL, ids[:m], 2, m, "scalar")
    prefix = base[:len(bits)]
    assert len(bits) * n == len(base) * m
    assert bits == prefix, f"default model, scalar, first {m} tokens: {first_difference(prefix, bits)}"


def test_default_model_run_text_identical():
    common = ["run", "-m", DEFAULT_MODEL, "-p", "The three primary colors are", "-n", "24",
              "--temp", "1.0", "--seed", "11"]
    base, _ = lockstep(common, BEST, 2)
    assert len(base) > len("The three primary colors are") + 20, base
    for threads, batch, isa_name, ctx in ((1, 1, isa("avx2"), None), (3, 2, BEST, 1024)):
        extra = ["--batch", str(batch)] + (["--ctx", str(ctx)] if ctx else [])
        out, _ = lockstep(common + extra, isa_name, threads)
        assert out == base, (f"text with -t {threads} --batch {batch} {isa_name} "
                             f"--ctx {ctx} differs:\n{base!r}\n{out!r}")


# ---------------------------------------------------------------------------------------
# No libm in the engine

def libm_symbols():
    names = set()
    for lib in ("libm.so.6", "libmvec.so.1"):
        path = subprocess.run(["gcc", "-print-file-name=" + lib], capture_output=True,
                              text=True).stdout.strip()
        if not os.path.isabs(path):
            for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"):
                if os.path.exists(os.path.join(d, lib)):
                    path = os.path.join(d, lib)
                    break
        if not os.path.exists(path):
            assert lib != "libm.so.6", "libm.so.6 not found: cannot list its symbols"
            continue
        out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TtWwiIV":
                names.add(parts[2].split("@")[0])
    assert {"expf", "tanhf", "exp", "erff", "powf"} <= names, "libm's symbol list looks wrong"
    return names


def libm_references(object_path, libm):
    """{member: sorted libm symbols it leaves undefined} for an object or archive."""
    out = subprocess.run(["nm", "-u", "-A", object_path], capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for line in out.splitlines():
        location, _, symbol = line.rpartition(" ")
        symbol = symbol.split("@")[0]
        if symbol in libm:
            member = location.split(":")[-2] if location.count(":") >= 2 else location
            found.setdefault(member.strip(), set()).add(symbol)
    return {k: sorted(v) for k, v in found.items()}


def test_engine_calls_no_libm():
    libm = libm_symbols()
    with tempfile.TemporaryDirectory() as tmp:
        # The detector, on an object that does call libm (and sqrtf, which must not count:
        # with -fno-math-errno it is an instruction).
        probe = os.path.join(tmp, "probe.c")
        with open(probe, "w") as f:
            f.write("#include <math.h>\nfloat probe(float x) { return expf(x) + tanhf(x) "
                    "+ sqrtf(x); }\n")
        subprocess.run(["gcc", "-std=c11", "-O2", "-ffp-contract=off", "-fno-math-errno", "-c",
                        "-o", os.path.join(tmp, "probe.o"), probe], check=True)
        seen = libm_references(os.path.join(tmp, "probe.o"), libm)
        assert list(seen.values()) == [["expf", "tanhf"]], f"detector saw {seen}"
    archive = os.path.join(ROOT, "build", "liblockstep.a")
    assert os.path.exists(archive), f"{archive} missing: build with make"
    members = subprocess.run(["ar", "t", archive], capture_output=True, text=True,
                             check=True).stdout.split()
    assert any(m.startswith("kernels") for m in members) and len(members) > 10, members
    found = libm_references(archive, libm)
    assert not found, f"engine objects call libm: {found}"
    # The command line may use libm for reporting; say if it does.
    cli = libm_references(LOCKSTEP, libm)
    print(f"# {len(members)} engine objects, no libm reference; the lockstep binary: "
          f"{sorted(set(sum(cli.values(), []))) or 'none either'}")


# ---------------------------------------------------------------------------------------
# Static memory: no allocation and no system call but writes per generated token

def parse_strace(path):
    """From `strace -f -o path`: (counts of every system call of the run, counts of those
    made between the first and the last write to standard output, i.e. while generating).
    A call another thread interrupted shows twice, "name(... <unfinished ...>" and
    "<... name resumed>": it counts once."""
    calls = []
    with open(path) as f:
        for line in f:
            m = re.match(r"\d+\s+(\w+)\((\d*)", line)
            if m:
                calls.append((m.group(1), m.group(1) == "write" and m.group(2) == "1"))
    outputs = [i for i, (_, stdout) in enumerate(calls) if stdout]
    every, generating = {}, {}
    for i, (name, _) in enumerate(calls):
        every[name] = every.get(name, 0) + 1
        if outputs and outputs[0] < i < outputs[-1]:
            generating[name] = generating.get(name, 0) + 1
    return every, generating


def build_alloc_counter(tmp):
    so = os.path.join(tmp, "alloc_counter.so")
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-shared", "-fPIC", "-o", so,
                    os.path.join(ROOT, "tests", "python", "alloc_counter.c"), "-ldl"],
                   check=True)
    return so


def traced_run(tmp, so, model, n, threads, ctx):
    """(allocation counts, syscall counts, syscall counts while generating) of one `lockstep
    run` generating n tokens."""
    allocs_path = os.path.join(tmp, f"allocs-{n}.txt")
    strace_path = os.path.join(tmp, f"strace-{n}.txt")
    args = ["strace", "-f", "-o", strace_path, "-E", f"LD_PRELOAD={so}",
            "-E", f"ALLOC_COUNTER_OUT={allocs_path}", LOCKSTEP, "run", "-m", model,
            "-p", "Once upon a time", "-n", str(n), "--temp", "1.0", "--seed", "3",
            "--repeat-penalty", "1.1", "-t", str(threads), "--ctx", str(ctx)]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=600)
    stderr = r.stderr.decode(errors="replace")  # the text of random models is not UTF-8
    assert r.returncode == 0, f"{' '.join(args)} exited {r.returncode}: {stderr[-1500:]}"
    m = re.search(r"generated (\d+) tokens", stderr)
    assert m and int(m.group(1)) == n, f"wanted {n} tokens generated: {stderr[-500:]}"
    with open(allocs_path) as f:
        allocs = {k: int(v) for k, v in (line.split() for line in f)}
    return (allocs, *parse_strace(strace_path))


def check_static_memory(model, ctx):
    """No allocation that grows with the tokens generated, and no system call but the writes
    of the text from the first token written to the last. (Counting whole runs of 8 and 256
    tokens instead, as this did before, failed on start-up and shutdown races: whether
    pthread_join finds the worker gone decides whether it waits on a futex.)"""
    assert shutil.which("strace"), "strace is needed to count system calls"
    threads = min(2, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        so = build_alloc_counter(tmp)
        a8, s8, _ = traced_run(tmp, so, model, 8, threads, ctx)
        a256, s256, g256 = traced_run(tmp, so, model, 256, threads, ctx)
        if any(k != "write" for k in g256):
            # Workers go to sleep after 0.2 s without a call, and the next call wakes them
            # (a futex): a host that stalls the caller that long under strace adds one. Such
            # a stall is rare: the per-call minimum of two runs.
            b256, _, h256 = traced_run(tmp, so, model, 256, threads, ctx)
            assert b256 == a256, "allocation counts differ between identical runs"
            g256 = {k: min(g256.get(k, 0), h256.get(k, 0)) for k in set(g256) | set(h256)}
    # The instruments work: the shim saw the engine's allocations, strace its writes.
    assert a8["malloc"] > 0 and a8["posix_memalign"] >= 4, f"shim saw nothing: {a8}"
    # (a token whose piece is empty writes nothing: most do write)
    assert s256.get("write", 0) >= s8.get("write", 0) + 200, f"writes {s8} -> {s256}"
    assert g256.get("write", 0) >= 200, f"writes while generating: {g256}"
    assert a8 == a256, f"allocations grow with tokens: {a8} -> {a256}"
    other = {k: v for k, v in g256.items() if k != "write" and v}
    assert not other, f"system calls other than write while generating 256 tokens: {other}"
    print(f"# {os.path.basename(model)}, {threads} threads: {sum(a8.values())} heap/mapping "
          f"calls for 8 and for 256 tokens; {g256.get('write', 0)} writes and no other system "
          f"call from the first token written to the last ({sum(s256.values())} in the whole "
          f"run of 256)")


def test_static_memory_default_model():
    check_static_memory(DEFAULT_MODEL, 512)


def test_static_memory_tiny_bpe_model():
    check_static_memory(tiny_model("llama", "q4_k", seed=0, vocab="bpe", ctx=600), 512)
