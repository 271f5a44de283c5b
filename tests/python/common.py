"""Shared helpers for the Python tests (tests/python/test_*.py).

  ROOT, VENV_PYTHON, LOCKSTEP, MODEL_CACHE, DEFAULT_MODEL, GPL3
  tiny_model(arch, weight_type, seed=0, vocab="bpe", perturb=None, **dims) -> path
      a tools/make_tiny_model.py model, cached in build/test-models/ under a name keyed by
      the parameters and the generator's own source (a changed generator makes new files)
  run_lockstep(args, timeout=600) -> CompletedProcess; raises AssertionError unless exit 0
  lockstep_eval(model, ids, ctx, threads=2) -> (logits float32 [n, n_vocab], perplexity)
  write_ids(path, ids), read_logits(path, n_tokens)
  compare_logits(ref, x) -> dict(maxabs, kl, top1, std): KL(softmax(ref) || softmax(x))
      averaged over rows, top-1 agreement, std of ref
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
LOCKSTEP = os.path.join(ROOT, "build", "lockstep")
MODEL_CACHE = os.path.join(ROOT, "build", "test-models")
DEFAULT_MODEL = os.path.join(ROOT, "models", "default.gguf")
GPL3 = "/usr/share/common-licenses/GPL-3"

# The tiny random models the end-to-end tests share: name -> (arch, vocab, weight type, dims).
# Together they cover every architecture and every weight type.
TINY_MODELS = {
    "llama_spm_f32": ("llama", "spm", "f32", dict(n_head_kv=4)),        # MHA
    "llama_spm_q4_0": ("llama", "spm", "q4_0", {}),
    "llama_spm_bf16": ("llama", "spm", "bf16", {}),
    "llama3_bpe_q4_k": ("llama", "bpe", "q4_k", dict(rope_base=500000.0)),
    "llama3_bpe_f16": ("llama", "bpe", "f16", dict(rope_base=500000.0)),
    "qwen2_q8_0": ("qwen2", "bpe", "q8_0", {}),
    "qwen2_q5_k": ("qwen2", "bpe", "q5_k", {}),
    "qwen3_q6_k": ("qwen3", "bpe", "q6_k", {}),
    "qwen3_f32": ("qwen3", "bpe", "f32", {}),
    "gemma3_q5_0": ("gemma3", "spm", "q5_0", {}),
    "gemma3_f32": ("gemma3", "spm", "f32", {}),
    # dim 320: rows of 320 fall back to Q5_0/Q8_0; rows of 512 (attn_output) and 768
    # (ffn_down) stay Q4_K/Q6_K
    "gemma3_mixed": ("gemma3", "spm", "mixed", dict(dim=320, ffn=768)),
}

if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def _generator_digest():
    h = hashlib.sha256()
    for name in ("make_tiny_model.py", "test_vocab.py"):
        with open(os.path.join(TOOLS, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def tiny_model(arch, weight_type, seed=0, vocab="bpe", perturb=None, **dims):
    """Path of a cached tiny model; made on first use (atomically: tmp file + rename)."""
    from make_tiny_model import make_tiny_model

    key = json.dumps([arch, weight_type, seed, vocab, perturb, sorted(dims.items()),
                      _generator_digest()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    os.makedirs(MODEL_CACHE, exist_ok=True)
    path = os.path.join(MODEL_CACHE, f"{arch}-{vocab}-{weight_type}-s{seed}-{digest}.gguf")
    if not os.path.exists(path):
        make_tiny_model(path, arch, weight_type, seed, vocab, perturb=perturb, **dims)
    return path


def run_lockstep(args, timeout=600):
    assert os.path.exists(LOCKSTEP), f"{LOCKSTEP} missing: build it with make"
    r = subprocess.run([LOCKSTEP, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, (f"lockstep {' '.join(args)} exited {r.returncode}:\n"
                               f"{r.stderr[-2000:]}")
    return r


def write_ids(path, ids):
    with open(path, "w") as f:
        f.write(" ".join(str(int(t)) for t in ids) + "\n")


def read_logits(path, n_tokens):
    x = np.fromfile(path, dtype="<f4")
    assert n_tokens > 0 and x.size % n_tokens == 0 and x.size > 0, \
        f"{path}: {x.size} floats is not {n_tokens} rows"
    return x.reshape(n_tokens, -1)


def parse_perplexity(stdout):
    for line in stdout.splitlines():
        if line.startswith("perplexity:"):
            return float(line.split(":", 1)[1])
    raise AssertionError(f"no 'perplexity:' line in lockstep's output: {stdout[-500:]!r}")


def lockstep_eval(model, ids, ctx, threads=2, timeout=600):
    """Runs `lockstep eval`; returns (logits [n_tokens, n_vocab] float32, printed perplexity)."""
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = os.path.join(tmp, "ids.txt")
        out_path = os.path.join(tmp, "logits.f32")
        write_ids(ids_path, ids)
        r = run_lockstep(["eval", "-m", model, "--tokens", ids_path, "--ctx", str(ctx),
                          "-t", str(threads), "--logits-out", out_path], timeout=timeout)
        return read_logits(out_path, len(ids)), parse_perplexity(r.stdout)


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare_logits(ref, x, chunk=32):
    """Distance of x from ref, both [n_tokens, n_vocab]; rows in chunks to bound memory."""
    assert ref.shape == x.shape, f"shapes differ: {ref.shape} vs {x.shape}"
    assert np.isfinite(x).all(), "non-finite logits"
    maxabs, kl_sum, agree = 0.0, 0.0, 0
    for i in range(0, ref.shape[0], chunk):
        r, c = ref[i:i + chunk], x[i:i + chunk]
        maxabs = max(maxabs, float(np.abs(r.astype(np.float64) - c).max()))
        lp, lq = log_softmax(r), log_softmax(c)
        kl_sum += float((np.exp(lp) * (lp - lq)).sum())
        agree += int((r.argmax(-1) == c.argmax(-1)).sum())
    n = ref.shape[0]
    return dict(maxabs=maxabs, kl=kl_sum / n, top1=agree / n, std=float(ref.std()))


def perplexity(logits, ids, chunk=32):
    """exp(mean -log p(ids[i+1] | logits[i])) in float64."""
    ids = np.asarray(ids, dtype=np.int64)
    nll = 0.0
    for i in range(0, len(ids) - 1, chunk):
        j = min(i + chunk, len(ids) - 1)
        lp = log_softmax(logits[i:j])
        nll -= float(lp[np.arange(j - i), ids[i + 1:j + 1]].sum())
    return float(np.exp(nll / (len(ids) - 1)))
