#!/usr/bin/env python3
"""make_tiny_model.py — tiny random-weight GGUF models shaped like real ones.

  make_tiny_model(path, arch, weight_type="q8_0", seed=0, vocab="bpe"|"spm", **dims)

writes a GGUF the way llama.cpp's converter (convert_hf_to_gguf.py) and quantizer
(llama-quantize) would for that architecture: the metadata keys llama.cpp reads, the tensor
names and shapes, tied or untied output, and weights in the asked type. Quantized weights are
random block bytes written directly (random quants, scales chosen so the values have a
standard deviation near WEIGHT_STD, like a real model), so every weight is exactly
representable and both engines see the same numbers.

  arch         llama (untied output, NORM rope), qwen2 (q/k/v biases, tied), qwen3 (per-head
               q/k RMSNorm, tied), gemma3 (4 norms per block, q/k norm, sliding window with
               pattern 6, embeddings scaled by sqrt(dim), tied, GELU FFN)
  weight_type  f32 f16 bf16 q4_0 q5_0 q8_0 q4_k q5_k q6_k, or "mixed": a Q4_K_M-like file
               (Q4_K, attn_v/ffn_down Q6_K on some layers, output Q6_K; rows whose length is
               not a multiple of 256 fall back to Q5_0 / Q8_0 as llama-quantize does)
  vocab        "spm" (SentencePiece, tokenizer.ggml.model "llama") or "bpe" (byte-level BPE,
               "gpt2"; pre "llama-bpe", or "qwen2" for the qwen architectures) from
               tools/test_vocab.py
  dims         dim, n_layer, n_head, n_head_kv, head_dim, ffn, ctx, eps, rope_base,
               sliding_window, tied, vocab_size; defaults in ARCH_DEFAULTS
  perturb      optional name of an F32 tensor to replace with ones (a model "with one norm
               weight changed", used to show that a logits comparison can fail)

CLI: tools/make_tiny_model.py OUT.gguf --arch qwen3 --type q4_k [--seed 0] [--vocab spm]
     [--dim 256 --n-layer 2 ...]
"""
import argparse
import os
import sys

import numpy as np

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as Q  # noqa: E402

WEIGHT_STD = 0.05       # std of every matrix's values (dim 256: a matmul output has std ~0.8)
NORM_STD = 0.2          # norm weights are 1 + N(0, NORM_STD): a dropped norm weight shows
BIAS_STD = 0.5          # qwen2 q/k/v biases

ARCH_DEFAULTS = {
    # head_dim: gemma3's differs from dim / n_head on purpose (key_length must be read).
    "llama": dict(dim=256, n_layer=2, n_head=4, n_head_kv=2, head_dim=64, ffn=512, ctx=256,
                  eps=1e-5, rope_base=10000.0, tied=False),
    "qwen2": dict(dim=256, n_layer=2, n_head=4, n_head_kv=2, head_dim=64, ffn=512, ctx=256,
                  eps=1e-6, rope_base=1000000.0, tied=True),
    "qwen3": dict(dim=256, n_layer=2, n_head=4, n_head_kv=1, head_dim=64, ffn=512, ctx=256,
                  eps=1e-6, rope_base=1000000.0, tied=True),
    # 7 layers with pattern 6: layers 0-4 and 6 use the window, layer 5 is global.
    "gemma3": dict(dim=256, n_layer=7, n_head=4, n_head_kv=1, head_dim=128, ffn=512, ctx=256,
                   eps=1e-6, rope_base=1000000.0, sliding_window=8, tied=True),
}

WEIGHT_TYPES = {
    "f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q4_0": Q.Q4_0, "q5_0": Q.Q5_0,
    "q8_0": Q.Q8_0, "q4_k": Q.Q4_K, "q5_k": Q.Q5_K, "q6_k": Q.Q6_K, "mixed": None,
}

FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    "q5_0": gguf.LlamaFileType.MOSTLY_Q5_0, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    "q4_k": gguf.LlamaFileType.MOSTLY_Q4_K_S, "q5_k": gguf.LlamaFileType.MOSTLY_Q5_K_S,
    "q6_k": gguf.LlamaFileType.MOSTLY_Q6_K, "mixed": gguf.LlamaFileType.MOSTLY_Q4_K_M,
}


# ---------------------------------------------------------------------------------------
# Random weights in each format. Every function returns (array, raw_dtype) for
# GGUFWriter.add_tensor: `rows` rows of `cols` values (cols is the GGUF ne0, the row length).

def _f16(x):
    return np.asarray(x, dtype=np.float16).view(np.uint8).reshape(*np.shape(x), 2)


def _block_scale(rng, nblocks, base, signed=False):
    """One scale per block, magnitude spread 0.5x-1.5x around base. signed: a random sign,
    as llama-quantize gives Q4_0/Q5_0 (d = the block's extreme value / -8 or -16): it also
    cancels the -0.5*d mean of q-8 / q-16 along a row."""
    d = base * rng.uniform(0.5, 1.5, size=nblocks)
    return d * rng.choice([-1.0, 1.0], size=nblocks) if signed else d


def random_weights(rng, rows, cols, qtype, std=WEIGHT_STD):
    if qtype == Q.F32:
        return rng.normal(0.0, std, (rows, cols)).astype(np.float32), None
    if qtype == Q.F16:
        return rng.normal(0.0, std, (rows, cols)).astype(np.float16), None
    if qtype == Q.BF16:
        x = rng.normal(0.0, std, (rows, cols)).astype(np.float32)
        return gguf.quants.quantize(x, Q.BF16), Q.BF16
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    if cols % block:
        raise ValueError(f"row length {cols} is not a multiple of {qtype.name}'s block {block}")
    n = rows * cols // block
    u8 = lambda k: rng.integers(0, 256, size=(n, k), dtype=np.uint8)  # noqa: E731
    if qtype == Q.Q8_0:      # d; 32 x int8; x = d*q       (q uniform in -127..127: std 73.6)
        d = _block_scale(rng, n, std / 73.6)
        q = rng.integers(-127, 128, size=(n, 32), dtype=np.int8).view(np.uint8)
        blocks = np.concatenate([_f16(d), q], axis=1)
    elif qtype == Q.Q4_0:    # d; 16 B nibbles; x = d*(q-8)  (std of q-8: 4.61)
        d = _block_scale(rng, n, std / 4.61, signed=True)
        blocks = np.concatenate([_f16(d), u8(16)], axis=1)
    elif qtype == Q.Q5_0:    # d; 4 B high bits; 16 B nibbles; x = d*(q-16)  (std 9.23)
        d = _block_scale(rng, n, std / 9.23, signed=True)
        blocks = np.concatenate([_f16(d), u8(4), u8(16)], axis=1)
    elif qtype in (Q.Q4_K, Q.Q5_K):
        # d, dmin; 12 B of 6-bit (scale, min) for 8 sub-blocks; [Q5_K: 32 B high bits]; 128 B
        # nibbles. x = d*sc*q - dmin*m. Scales sc in 32..63; the min m is chosen so each
        # sub-block is centred: dmin*m ~ d*sc*mean(q).
        qmax = 15 if qtype == Q.Q4_K else 31
        mean_q, std_q = qmax / 2.0, (4.61 if qtype == Q.Q4_K else 9.23)
        sc = rng.integers(32, 64, size=(n, 8))
        d = _block_scale(rng, n, std / (47.5 * std_q))
        dmin = d * (qmax + 1) / 2.0
        m = np.clip(np.rint(sc * mean_q / ((qmax + 1) / 2.0)), 0, 63).astype(np.int64)
        scales = pack_k_scales(sc, m)
        parts = [_f16(d), _f16(dmin), scales]
        if qtype == Q.Q5_K:
            parts.append(u8(32))
        parts.append(u8(128))
        blocks = np.concatenate(parts, axis=1)
    elif qtype == Q.Q6_K:
        # 128 B low 4 bits, 64 B high 2 bits, 16 x int8 scales, d; x = d*sc*(q-32) (std 18.5)
        # scales of random sign (int8 in the format) cancel the -0.5 mean of q-32
        sc = rng.integers(16, 49, size=(n, 16)) * rng.choice([-1, 1], size=(n, 16))
        sc = sc.astype(np.int8).view(np.uint8)
        d = _block_scale(rng, n, std / (32.5 * 18.47))
        blocks = np.concatenate([u8(128), u8(64), sc, _f16(d)], axis=1)
    else:
        raise ValueError(f"unsupported weight type {qtype}")
    return np.ascontiguousarray(blocks).reshape(rows, -1), qtype


def pack_k_scales(sc, m):
    """Packs 8 6-bit scales and 8 6-bit mins into the 12 bytes of a Q4_K/Q5_K block:
    bytes 0-3: sc[0..3] | (sc[4..7] >> 4) << 6;  bytes 4-7: m[0..3] | (m[4..7] >> 4) << 6;
    bytes 8-11: (sc[4..7] & 15) | (m[4..7] & 15) << 4."""
    sc = sc.astype(np.uint8)
    m = m.astype(np.uint8)
    out = np.empty((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return out


# ---------------------------------------------------------------------------------------
# Which type each tensor gets.

def use_more_bits(layer, n_layer):
    """llama-quantize's choice of layers that get more bits in Q4_K_M (attn_v, ffn_down)."""
    return (layer < n_layer // 8 or layer >= 7 * n_layer // 8
            or (layer - n_layer // 8) % 3 == 2)


def tensor_type(name, cols, weight_type, layer, n_layer, tied):
    if weight_type != "mixed":
        return WEIGHT_TYPES[weight_type]
    if name == "output" or (name == "token_embd" and tied):
        want = Q.Q6_K
    elif name in ("attn_v", "ffn_down") and use_more_bits(layer, n_layer):
        want = Q.Q6_K
    else:
        want = Q.Q4_K
    if cols % 256 == 0:
        return want
    return Q.Q8_0 if want == Q.Q6_K else Q.Q5_0


# ---------------------------------------------------------------------------------------

def model_dims(arch, **dims):
    if arch not in ARCH_DEFAULTS:
        raise ValueError(f"unknown arch {arch!r}: one of {sorted(ARCH_DEFAULTS)}")
    out = dict(ARCH_DEFAULTS[arch])
    for k, v in dims.items():
        if k not in out and k not in ("sliding_window", "vocab_size"):
            raise ValueError(f"unknown dimension {k!r}")
        out[k] = v
    if arch == "gemma3":
        out["tied"] = True
    return out


def make_tiny_model(path, arch, weight_type="q8_0", seed=0, vocab="bpe", perturb=None, **dims):
    """Writes the model to path; returns a dict of its hyperparameters (plus n_vocab)."""
    import test_vocab

    if weight_type not in WEIGHT_TYPES:
        raise ValueError(f"unknown weight type {weight_type!r}: one of {sorted(WEIGHT_TYPES)}")
    h = model_dims(arch, **dims)
    rng = np.random.default_rng(seed)
    tmp = f"{path}.{os.getpid()}.tmp"  # unique: parallel test runs may make the same model
    w = gguf.GGUFWriter(tmp, arch)
    w.add_name(f"lockstep tiny {arch} {weight_type} seed {seed}")
    w.add_type("model")

    if vocab == "spm":
        n_vocab = test_vocab.add_spm_vocab(w, vocab_size=h.get("vocab_size", 1000),
                                           add_space_prefix=(arch != "gemma3"))
    elif vocab == "bpe":
        pre = "qwen2" if arch in ("qwen2", "qwen3") else "llama-bpe"
        n_vocab = test_vocab.add_bpe_vocab(w, pre=pre, vocab_size=h.get("vocab_size", 1000))
    else:
        raise ValueError(f"unknown vocab {vocab!r}: spm or bpe")
    h["n_vocab"] = n_vocab

    dim, hd, L = h["dim"], h["head_dim"], h["n_layer"]
    nh, nkv, ffn = h["n_head"], h["n_head_kv"], h["ffn"]
    w.add_context_length(h["ctx"])
    w.add_embedding_length(dim)
    w.add_block_count(L)
    w.add_feed_forward_length(ffn)
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_layer_norm_rms_eps(h["eps"])
    w.add_rope_freq_base(h["rope_base"])
    if arch == "llama":
        w.add_vocab_size(n_vocab)
        w.add_rope_dimension_count(hd)
    if arch in ("qwen3", "gemma3") or hd != dim // nh:
        w.add_key_length(hd)
        w.add_value_length(hd)
    if arch == "gemma3":
        w.add_sliding_window(h["sliding_window"])
    w.add_file_type(FILE_TYPES[weight_type])
    if weight_type not in ("f32", "f16", "bf16"):
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    def norm(name, n):
        x = (1.0 + rng.normal(0.0, NORM_STD, n)).astype(np.float32)
        if name == perturb:
            x = np.ones(n, dtype=np.float32)
        w.add_tensor(name, x)

    def matrix(name, short, rows, cols, layer=0):
        # rows = output features, cols = input features = GGUF ne0 (row length)
        qt = tensor_type(short, cols, weight_type, layer, L, h["tied"])
        data, raw = random_weights(rng, rows, cols, qt)
        w.add_tensor(name, data, raw_dtype=raw)

    matrix("token_embd.weight", "token_embd", n_vocab, dim)
    for i in range(L):
        p = f"blk.{i}."
        norm(p + "attn_norm.weight", dim)
        matrix(p + "attn_q.weight", "attn_q", nh * hd, dim, i)
        matrix(p + "attn_k.weight", "attn_k", nkv * hd, dim, i)
        matrix(p + "attn_v.weight", "attn_v", nkv * hd, dim, i)
        if arch == "qwen2":
            for t, n in (("attn_q", nh * hd), ("attn_k", nkv * hd), ("attn_v", nkv * hd)):
                b = rng.normal(0.0, BIAS_STD, n).astype(np.float32)
                if perturb == p + t + ".bias":
                    b[:] = 0.0
                w.add_tensor(p + t + ".bias", b)
        if arch in ("qwen3", "gemma3"):
            norm(p + "attn_q_norm.weight", hd)
            norm(p + "attn_k_norm.weight", hd)
        matrix(p + "attn_output.weight", "attn_output", dim, nh * hd, i)
        if arch == "gemma3":
            norm(p + "post_attention_norm.weight", dim)
        norm(p + "ffn_norm.weight", dim)
        matrix(p + "ffn_gate.weight", "ffn_gate", ffn, dim, i)
        matrix(p + "ffn_up.weight", "ffn_up", ffn, dim, i)
        matrix(p + "ffn_down.weight", "ffn_down", dim, ffn, i)
        if arch == "gemma3":
            norm(p + "post_ffw_norm.weight", dim)
    norm("output_norm.weight", dim)
    if not h["tied"]:
        matrix("output.weight", "output", n_vocab, dim)

    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--arch", required=True, choices=sorted(ARCH_DEFAULTS))
    ap.add_argument("--type", default="q8_0", choices=sorted(WEIGHT_TYPES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", default="bpe", choices=["bpe", "spm"])
    for k in ("dim", "n_layer", "n_head", "n_head_kv", "head_dim", "ffn", "ctx",
              "sliding_window", "vocab_size"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, dest=k)
    ap.add_argument("--rope-base", type=float, dest="rope_base")
    ap.add_argument("--eps", type=float)
    args = ap.parse_args()
    dims = {k: v for k, v in vars(args).items()
            if k not in ("out", "arch", "type", "seed", "vocab") and v is not None}
    h = make_tiny_model(args.out, args.arch, args.type, args.seed, args.vocab, **dims)
    print(args.out, h)


if __name__ == "__main__":
    main()
