#!/usr/bin/env python3
"""llama_reference.py — logits of every position from llama.cpp (llama-cpp-python).

  llama_logits(model_path, token_ids, n_ctx, n_threads=2, n_batch=512)
      -> numpy float32 [n_tokens, n_vocab]: row i is the next-token logits after token i
  llama_tokenize(model_path, text, add_bos=True) -> list of ids (llama.cpp's tokenizer)
  perplexity(logits, token_ids) -> exp(mean over i of -log softmax(logits[i])[ids[i+1]])
  llama_perplexity(model_path, token_ids, n_ctx, ...) -> perplexity of llama.cpp's logits

The micro-batch (n_ubatch) is set equal to n_batch: llama.cpp's logits change with the
micro-batch size (it is not batch invariant), so a reference run names the one it used.
Flash attention is off (llama-cpp-python's default).

CLI (same output format as `lockstep eval --logits-out`: raw little-endian float32,
row-major [n_tokens][n_vocab]):
  tools/llama_reference.py -m MODEL --tokens IDSFILE [--ctx N] [-t T] [--batch B]
      --logits-out FILE         prints "perplexity: X" on stdout
"""
import argparse
import sys

import numpy as np


def _load(model_path, n_ctx, n_threads, n_batch, logits_all=True):
    import llama_cpp

    return llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_batch=n_batch,
                           n_ubatch=n_batch, n_threads=n_threads, n_threads_batch=n_threads,
                           logits_all=logits_all, verbose=False, seed=0)


def llama_logits(model_path, token_ids, n_ctx, n_threads=2, n_batch=512):
    token_ids = [int(t) for t in token_ids]
    if len(token_ids) > n_ctx:
        raise ValueError(f"{len(token_ids)} tokens do not fit a context of {n_ctx}")
    llm = _load(model_path, n_ctx, n_threads, min(n_batch, n_ctx))
    try:
        n_vocab = llm.n_vocab()
        bad = [t for t in token_ids if not 0 <= t < n_vocab]
        if bad:
            raise ValueError(f"token ids out of range [0, {n_vocab}): {bad[:5]}")
        llm.eval(token_ids)
        out = np.array(llm.scores[:len(token_ids), :], dtype=np.float32, copy=True)
    finally:
        llm.close()
    return out


def llama_tokenize(model_path, text, add_bos=True):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)
    try:
        return list(llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))
    finally:
        llm.close()


def log_softmax(logits):
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def perplexity(logits, token_ids):
    """Perplexity of predicting token_ids[1:] from logits[:-1] (float64)."""
    ids = np.asarray(token_ids, dtype=np.int64)
    lp = log_softmax(np.asarray(logits)[:-1])
    nll = -lp[np.arange(len(ids) - 1), ids[1:]]
    return float(np.exp(nll.mean()))


def llama_perplexity(model_path, token_ids, n_ctx, n_threads=2, n_batch=512):
    return perplexity(llama_logits(model_path, token_ids, n_ctx, n_threads, n_batch), token_ids)


def read_ids(path):
    with open(path) as f:
        return [int(t) for t in f.read().split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--tokens", required=True, help="file of whitespace-separated token ids")
    ap.add_argument("--ctx", type=int, default=0, help="context (default: the token count)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--logits-out", required=True)
    args = ap.parse_args()
    try:
        ids = read_ids(args.tokens)
    except (OSError, ValueError) as e:
        print(f"error: {args.tokens}: {e}", file=sys.stderr)
        return 2
    if not ids:
        print(f"error: {args.tokens}: no token ids", file=sys.stderr)
        return 2
    logits = llama_logits(args.model, ids, args.ctx or len(ids), args.threads, args.batch)
    logits.astype("<f4").tofile(args.logits_out)
    print(f"perplexity: {perplexity(logits, ids):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
