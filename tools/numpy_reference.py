#!/usr/bin/env python3
"""numpy_reference.py — a plain numpy forward pass (float64) of llama, qwen2, qwen3, gemma3.

  numpy_logits(model_path, token_ids, bugs=()) -> float32 [n_tokens, n_vocab]

Written from the architectures' definitions (HF transformers modeling files, llama.cpp's
graph builders for the GGUF conventions), independent of both llama.cpp's kernels and
lockstep: weights are dequantized with the gguf package, activations stay float64, no
quantization of activations. A second reference next to llama.cpp.

GGUF conventions it follows (as llama.cpp does):
  - llama: RoPE on adjacent pairs (2i, 2i+1) (the converter permuted q/k for this);
    qwen2, qwen3, gemma3: RoPE on halves (i, i + d/2) ("NEOX").
  - gemma3: norm weights already include HF's +1; embeddings times sqrt(dim); queries
    times head_dim^-0.5; layer il uses the sliding window unless il % 6 == 5; window
    layers use RoPE base 10000, global layers {arch}.rope.freq_base; a query at position
    p sees keys at positions p - window < j <= p.

bugs: names of deliberate mistakes, to show that a comparison catches them:
  "rope_style" (the other pairing), "no_qk_norm", "norm_plus_one" (gemma: add 1 again),
  "no_embd_scale", "swa_window+1", "swa_rope_base" (global base on window layers),
  "no_bias", "no_post_norms".

CLI: tools/numpy_reference.py -m MODEL --tokens IDSFILE --logits-out FILE
"""
import argparse
import sys

import numpy as np


class Model:
    def __init__(self, path):
        import gguf

        r = gguf.GGUFReader(path)
        self.arch = r.fields["general.architecture"].contents()
        self.kv = {k: f.contents() for k, f in r.fields.items()
                   if not k.startswith("tokenizer.")}
        self.t = {}
        for t in r.tensors:
            data = np.asarray(t.data)
            if t.tensor_type in (gguf.GGMLQuantizationType.F32,):
                x = data.astype(np.float64)
            elif t.tensor_type == gguf.GGMLQuantizationType.F16:
                x = data.astype(np.float64)
            else:
                x = gguf.quants.dequantize(data, t.tensor_type).astype(np.float64)
            # numpy shape: (rows, row length) = reversed GGUF dims
            self.t[t.name] = x.reshape([int(d) for d in reversed(t.shape)])

    def hp(self, key, default=None):
        v = self.kv.get(f"{self.arch}.{key}", default)
        if v is None:
            raise KeyError(f"{self.arch}.{key}")
        return v


def rms_norm(x, w, eps):
    # x [..., n]; mean of squares over the last axis
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def rope(x, pos, base, neox):
    # x [n_tokens, n_heads, d]; pair (a, b) rotated by pos * base^(-2i/d), i = pair index
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)     # [d/2]
    ang = pos[:, None].astype(np.float64) * inv[None, :]            # [n_tokens, d/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if neox:
        a, b = x[..., : d // 2], x[..., d // 2:]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    out = np.empty_like(x)
    if neox:
        out[..., : d // 2], out[..., d // 2:] = ra, rb
    else:
        out[..., 0::2], out[..., 1::2] = ra, rb
    return out


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def numpy_logits(model_path, token_ids, bugs=(), act_quant=None):
    m = model_path if isinstance(model_path, Model) else Model(model_path)
    bugs = set(bugs)
    arch, t = m.arch, m.t
    ids = np.asarray(token_ids, dtype=np.int64)
    n = len(ids)
    pos = np.arange(n)
    dim = int(m.hp("embedding_length"))
    n_layer = int(m.hp("block_count"))
    nh = int(m.hp("attention.head_count"))
    nkv = int(m.hp("attention.head_count_kv", nh))
    hd = int(m.hp("attention.key_length", dim // nh))
    eps = float(m.hp("attention.layer_norm_rms_epsilon"))
    base = float(m.hp("rope.freq_base", 10000.0))
    neox = arch in ("qwen2", "qwen3", "gemma3")
    if "rope_style" in bugs:
        neox = not neox
    gemma = arch == "gemma3"
    qk_norm = arch in ("qwen3", "gemma3") and "no_qk_norm" not in bugs
    window = int(m.hp("attention.sliding_window", 0)) if gemma else 0
    if "swa_window+1" in bugs:
        window += 1

    def W(name):
        w = t[name]
        if gemma and "norm_plus_one" in bugs and w.ndim == 1 and "norm" in name:
            w = w + 1.0
        return w

    def mm(a, name):
        # a [n, k] @ weight[rows, k].T; act_quant(a, name) models an engine that rounds the
        # activations before a weight matmul (llama.cpp: Q8_0 / Q8_K for quantized weights)
        if act_quant is not None:
            a = act_quant(a, name)
        return a @ W(name).T

    x = t["token_embd.weight"][ids]                                 # [n, dim]
    if gemma and "no_embd_scale" not in bugs:
        x = x * np.float64(np.float32(np.sqrt(np.float32(dim))))
    causal = pos[None, :] <= pos[:, None]                           # [q, k]
    for il in range(n_layer):
        p = f"blk.{il}."
        h = rms_norm(x, W(p + "attn_norm.weight"), eps)
        q = mm(h, p + "attn_q.weight")                            # [n, nh*hd]
        k = mm(h, p + "attn_k.weight")                            # [n, nkv*hd]
        v = mm(h, p + "attn_v.weight")
        if arch == "qwen2" and "no_bias" not in bugs:
            q, k, v = q + W(p + "attn_q.bias"), k + W(p + "attn_k.bias"), v + W(p + "attn_v.bias")
        q, k, v = q.reshape(n, nh, hd), k.reshape(n, nkv, hd), v.reshape(n, nkv, hd)
        if qk_norm:
            q = rms_norm(q, W(p + "attn_q_norm.weight"), eps)
            k = rms_norm(k, W(p + "attn_k_norm.weight"), eps)
        swa = gemma and window > 0 and il % 6 < 5
        b = 10000.0 if swa and "swa_rope_base" not in bugs else base
        q, k = rope(q, pos, b, neox), rope(k, pos, b, neox)
        mask = causal & ((pos[:, None] - pos[None, :]) < window) if swa else causal
        out = np.empty((n, nh, hd))
        for hh in range(nh):
            kh = hh // (nh // nkv)
            s = (q[:, hh, :] @ k[:, kh, :].T) / np.sqrt(hd)        # [q, k]
            s = np.where(mask, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            out[:, hh, :] = (s / s.sum(axis=1, keepdims=True)) @ v[:, kh, :]
        a = mm(out.reshape(n, nh * hd), p + "attn_output.weight")  # [n, dim]
        if gemma and "no_post_norms" not in bugs:
            a = rms_norm(a, W(p + "post_attention_norm.weight"), eps)
        x = x + a
        h = rms_norm(x, W(p + "ffn_norm.weight"), eps)
        g = mm(h, p + "ffn_gate.weight")                          # [n, ffn]
        u = mm(h, p + "ffn_up.weight")
        f = mm((gelu_tanh(g) if gemma else silu(g)) * u, p + "ffn_down.weight")
        if gemma and "no_post_norms" not in bugs:
            f = rms_norm(f, W(p + "post_ffw_norm.weight"), eps)
        x = x + f
    x = rms_norm(x, W("output_norm.weight"), eps)
    out_name = "output.weight" if "output.weight" in t else "token_embd.weight"
    return mm(x, out_name).astype(np.float32)                         # [n, n_vocab]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--logits-out", required=True)
    args = ap.parse_args()
    with open(args.tokens) as f:
        ids = [int(x) for x in f.read().split()]
    numpy_logits(args.model, ids).astype("<f4").tofile(args.logits_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
