"""lockstep's logits against llama.cpp and a numpy forward pass, on tiny random models of
every architecture and weight type, and on the real default model.

Tiny models (tools/make_tiny_model.py, cached in build/test-models/): 64 fixed random token
ids, context 128. Two independent references:
  llama.cpp      tools/llama_reference.py (llama-cpp-python). It rounds activations to Q8
                 before quantized matmuls and keeps the KV cache in f16, so it is not exact.
  numpy          tools/numpy_reference.py: float64, weights dequantized by the gguf package.
Their distance from each other measures the rounding noise a correct engine may show; the
bounds are 4x that noise (KL) and 4x its largest logit difference (at least 2% of the logits'
std). Measured (random models, logits std ~0.8-1.0): KL(llama.cpp || numpy) ~1e-7 for f32
and f16 weights, ~1e-5 for bf16, 6e-5..5e-4 for quantized ones; the bugs in BUGS (wrong RoPE
pairing, a missing norm or bias, the sliding window off by one, the window layers' RoPE base)
give KL 2.5e-2..1.4, at least 10x above every bound: test_comparison_catches_bugs keeps that
true.

Real model: models/default.gguf (Gemma 3 270M Q4_K_M), the first 512 tokens of the GPL-3,
context 512, against llama.cpp and against the exact float64 pass: see test_real_model_gpl3
for the bounds and why the issue's llama.cpp bounds are applied to the exact pass.
"""
import os
import subprocess
import tempfile

import numpy as np

from common import (TINY_MODELS, DEFAULT_MODEL, GPL3, ROOT, VENV_PYTHON, compare_logits, lockstep_eval,
                    perplexity, read_logits, tiny_model, write_ids)
import llama_reference
import numpy_reference

N_TOKENS = 64
CTX = 128
TOKEN_SEED = 1234

# name: (arch, vocab, weight type, dims). Every weight type appears at least once.
CASES = TINY_MODELS

# Deliberate mistakes (tools/numpy_reference.py) that a comparison must catch, per arch.
BUGS = {
    "llama": ["rope_style"],
    "qwen2": ["rope_style", "no_bias"],
    "qwen3": ["rope_style", "no_qk_norm"],
    "gemma3": ["rope_style", "no_qk_norm", "norm_plus_one", "no_embd_scale", "swa_window+1",
               "swa_rope_base", "no_post_norms"],
}

_refs = {}


def references(name):
    """(model path, ids, llama.cpp logits, numpy logits, bounds) for a case, computed once."""
    if name in _refs:
        return _refs[name]
    arch, vocab, wtype, dims = CASES[name]
    path = tiny_model(arch, wtype, seed=0, vocab=vocab, **dims)
    import gguf

    n_vocab = len(gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].data)
    ids = np.random.default_rng(TOKEN_SEED).integers(0, n_vocab, N_TOKENS).tolist()
    llama = llama_reference.llama_logits(path, ids, CTX)
    ref = numpy_reference.numpy_logits(path, ids)
    noise = compare_logits(llama, ref)
    bounds = dict(kl=max(4 * noise["kl"], 1e-6),
                  maxabs=max(4 * noise["maxabs"], 0.02 * noise["std"]))
    _refs[name] = (path, ids, llama, ref, bounds, noise)
    return _refs[name]


def check(candidate, llama, ref, bounds):
    """Failures (strings) of candidate logits against both references, and the numbers."""
    vs_llama = compare_logits(llama, candidate)
    vs_numpy = compare_logits(ref, candidate)
    fails = []
    for label, s in (("llama.cpp", vs_llama), ("numpy", vs_numpy)):
        if not s["kl"] <= bounds["kl"]:
            fails.append(f"KL vs {label} {s['kl']:.3g} > {bounds['kl']:.3g}")
        if not s["maxabs"] <= bounds["maxabs"]:
            fails.append(f"max |diff| vs {label} {s['maxabs']:.3g} > {bounds['maxabs']:.3g}")
    return fails, vs_llama, vs_numpy


def _fmt(s):
    return f"max|d| {s['maxabs']:.2e} KL {s['kl']:.2e} top1 {s['top1']:.3f}"


def _make_case_test(name):
    def test():
        path, ids, llama, ref, bounds, noise = references(name)
        logits, ppl = lockstep_eval(path, ids, CTX)
        assert logits.shape == llama.shape, f"logits shape {logits.shape} != {llama.shape}"
        fails, vs_llama, vs_numpy = check(logits, llama, ref, bounds)
        print(f"# {name}: logits std {noise['std']:.3f} | llama.cpp vs numpy {_fmt(noise)} | "
              f"lockstep vs llama.cpp {_fmt(vs_llama)} | lockstep vs numpy {_fmt(vs_numpy)} | "
              f"bounds KL {bounds['kl']:.2e} max|d| {bounds['maxabs']:.2e}")
        own = perplexity(logits, ids)
        assert abs(ppl - own) <= 1e-4 * own, f"printed perplexity {ppl} != {own} from logits"
        assert not fails, "; ".join(fails)
    test.__name__ = f"test_{name}"
    test.__doc__ = f"lockstep eval on the tiny {name} model against llama.cpp and numpy"
    return test


for _name in CASES:
    globals()[f"test_{_name}"] = _make_case_test(_name)


def test_references_agree():
    """llama.cpp and the numpy forward pass agree on every tiny model: the tools are sound.
    f32/f16 weights: only llama.cpp's f16 KV cache differs (KL ~1e-7); bf16: llama.cpp rounds
    activations to bf16; quantized: it rounds activations to Q8_0/Q8_K."""
    limits = {"f32": 1e-6, "f16": 1e-6, "bf16": 1e-4}
    for name, (arch, vocab, wtype, dims) in CASES.items():
        noise = references(name)[5]
        limit = limits.get(wtype, 2e-3)
        print(f"# references {name}: logits std {noise['std']:.3f} {_fmt(noise)}")
        assert noise["kl"] <= limit, f"{name}: KL(llama.cpp || numpy) {noise['kl']:.3g} > {limit}"
        assert noise["maxabs"] <= 0.3 * noise["std"], f"{name}: {_fmt(noise)}"


def test_comparison_catches_bugs():
    """The bounds used for lockstep reject real mistakes by a wide margin: numpy forward
    passes with one deliberate bug each, and llama.cpp on a model whose layer-0 ffn_norm
    weights were replaced by ones (a dropped norm weight)."""
    for name in ("llama_spm_q4_0", "qwen2_q8_0", "qwen3_q6_k", "gemma3_mixed", "gemma3_f32"):
        path, ids, llama, ref, bounds, noise = references(name)
        model = numpy_reference.Model(path)
        arch = CASES[name][0]
        for bug in BUGS[arch]:
            wrong = numpy_reference.numpy_logits(model, ids, bugs=[bug])
            fails, vs_llama, _ = check(wrong, llama, ref, bounds)
            ratio = vs_llama["kl"] / bounds["kl"]
            print(f"# bug {name}/{bug}: KL {vs_llama['kl']:.2e} = {ratio:.0f}x the bound")
            assert fails, f"{name}: bug {bug} passes the comparison"
            assert ratio >= 10, f"{name}: bug {bug} only {ratio:.1f}x the KL bound"
        a, vocab, wtype, dims = CASES[name]
        bad = tiny_model(a, wtype, seed=0, vocab=vocab, perturb="blk.0.ffn_norm.weight", **dims)
        wrong = llama_reference.llama_logits(bad, ids, CTX)
        fails, vs_llama, _ = check(wrong, llama, ref, bounds)
        ratio = vs_llama["kl"] / bounds["kl"]
        print(f"# perturbed {name} (blk.0.ffn_norm = 1): KL {vs_llama['kl']:.2e} = "
              f"{ratio:.0f}x the bound")
        assert fails and ratio >= 10, f"{name}: a changed norm weight gives only {ratio:.1f}x"


def test_llama_reference_settings_and_cli():
    """llama.cpp's logits do not depend on threads or batch size for these tiny models, and
    the CLI writes the float32 [n_tokens][n_vocab] file lockstep writes."""
    path, ids, llama, ref, bounds, noise = references("llama_spm_q4_0")
    for threads, batch in ((1, 64), (2, 16), (2, 1)):
        other = llama_reference.llama_logits(path, ids, CTX, n_threads=threads, n_batch=batch)
        s = compare_logits(llama, other)
        print(f"# llama.cpp threads {threads} batch {batch} vs threads 2 batch 128: {_fmt(s)}")
        assert s["kl"] <= 1e-6 and s["top1"] == 1.0, _fmt(s)
    with tempfile.TemporaryDirectory() as tmp:
        ids_path, out = os.path.join(tmp, "ids"), os.path.join(tmp, "out.f32")
        write_ids(ids_path, ids)
        r = subprocess.run([VENV_PYTHON, os.path.join(ROOT, "tools", "llama_reference.py"),
                            "-m", path, "--tokens", ids_path, "--ctx", str(CTX),
                            "--logits-out", out], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        got = read_logits(out, len(ids))
        assert np.array_equal(got, llama), "CLI logits differ from llama_logits()"
        printed = float(r.stdout.split("perplexity:")[1].split()[0])
        assert abs(printed - perplexity(llama, ids)) <= 1e-5 * printed


def test_tiny_models_are_sane():
    """Weights of each type have a model-like spread; files carry what llama.cpp reads."""
    import gguf

    Q = gguf.GGMLQuantizationType
    seen = set()
    for name, (arch, vocab, wtype, dims) in CASES.items():
        path = references(name)[0]
        r = gguf.GGUFReader(path)
        names = {t.name for t in r.tensors}
        for key in ("context_length", "embedding_length", "block_count", "feed_forward_length",
                    "attention.head_count", "attention.head_count_kv",
                    "attention.layer_norm_rms_epsilon", "rope.freq_base"):
            assert f"{arch}.{key}" in r.fields, f"{name}: {arch}.{key} missing"
        assert ("output.weight" in names) == (arch == "llama"), f"{name}: tied/untied wrong"
        assert ("blk.0.attn_q.bias" in names) == (arch == "qwen2"), name
        assert ("blk.0.attn_q_norm.weight" in names) == (arch in ("qwen3", "gemma3")), name
        assert ("blk.0.post_ffw_norm.weight" in names) == (arch == "gemma3"), name
        for t in r.tensors:
            seen.add(t.tensor_type)
            if len(t.shape) == 2 and t.name.startswith("blk.0."):
                x = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
                assert 0.03 < x.std() < 0.08 and abs(x.mean()) < 0.01, \
                    f"{name} {t.name} {t.tensor_type.name}: mean {x.mean()} std {x.std()}"
        if wtype == "mixed":
            types = {t.tensor_type for t in r.tensors}
            assert {Q.Q4_K, Q.Q6_K, Q.Q5_0, Q.Q8_0} <= types, f"mixed types {types}"
    want = {Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q5_0, Q.Q8_0, Q.Q4_K, Q.Q5_K, Q.Q6_K}
    assert want <= seen, f"types never tested: {want - seen}"


def test_real_model_gpl3():
    """models/default.gguf on the first 512 tokens of the GPL-3 (tokenized by llama.cpp with
    BOS), context 512, against both references.

    The issue asks for mean KL <= 0.005 and top-1 >= 98% against llama.cpp. llama.cpp itself
    is KL 0.0054 / top-1 96.5% away from the exact float64 pass on the same weights (it rounds
    activations to Q8_0 with f16 scales and, for K-quants, to Q8_K with one scale per 256
    elements), so no engine that is more exact than llama.cpp can meet those bounds against
    it. We hold lockstep to them against the exact pass instead, require it to be at least
    as close to the exact pass as llama.cpp is, and bound its distance to llama.cpp by the
    sum of the two engines' own distances (KL <= 0.01, top-1 >= 95%), with perplexity within
    1% of llama.cpp's."""
    with open(GPL3, encoding="utf-8") as f:
        text = f.read()
    ids = llama_reference.llama_tokenize(DEFAULT_MODEL, text, add_bos=True)[:512]
    assert len(ids) == 512
    llama = llama_reference.llama_logits(DEFAULT_MODEL, ids, 512, n_batch=512)
    logits, printed = lockstep_eval(DEFAULT_MODEL, ids, 512)
    exact = numpy_reference.numpy_logits(DEFAULT_MODEL, ids)
    to_llama = compare_logits(llama, logits)
    to_exact = compare_logits(exact, logits)
    llama_to_exact = compare_logits(exact, llama)
    ppl_llama, ppl, ppl_exact = perplexity(llama, ids), perplexity(logits, ids), perplexity(exact, ids)
    print(f"# default.gguf GPL-3 512 tokens | lockstep vs llama.cpp: {_fmt(to_llama)} | "
          f"lockstep vs exact: {_fmt(to_exact)} | llama.cpp vs exact: {_fmt(llama_to_exact)} | "
          f"perplexity lockstep {ppl:.4f} (printed {printed:.4f}) llama.cpp {ppl_llama:.4f} "
          f"exact {ppl_exact:.4f}")
    assert abs(printed - ppl) <= 1e-4 * ppl, f"printed perplexity {printed} != {ppl}"
    assert to_exact["kl"] <= 0.005, f"mean KL to the exact pass {to_exact['kl']:.4g} > 0.005"
    assert to_exact["top1"] >= 0.98, f"top-1 agreement with the exact pass {to_exact['top1']:.3f} < 0.98"
    assert to_exact["kl"] <= llama_to_exact["kl"], "lockstep is further from exact than llama.cpp"
    assert to_llama["kl"] <= 0.01, f"mean KL to llama.cpp {to_llama['kl']:.4g} > 0.01"
    assert to_llama["top1"] >= 0.95, f"top-1 agreement with llama.cpp {to_llama['top1']:.3f} < 0.95"
    assert abs(ppl - ppl_llama) <= 0.01 * ppl_llama, f"perplexity {ppl} vs {ppl_llama}"
