#!/usr/bin/env python3
"""bench/models.py — the models `lockstep bench` is run on besides the default Gemma 3 270M.

  bench/models.py            writes build/bench-models/llama-24m-q8_0.gguf (if absent)
                             and prints its path

llama-24m-q8_0: a llama-shaped model like llama2.c's stories15M/24M: dim 288, 6 layers,
6 heads of 48, FFN 768, vocab 32000, Q8_0 weights, random (tools/make_tiny_model.py):
about 25 MiB, so it fits in a 32 MiB last-level cache and decode reads its weights from
cache, not DRAM. Context 1024 (a 512-token prefill plus decode)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

OUT_DIR = os.path.join(ROOT, "build", "bench-models")
SMALL = dict(dim=288, n_layer=6, n_head=6, n_head_kv=6, head_dim=48, ffn=768, ctx=1024,
             vocab_size=32000)


def _padded_bpe_vocab(trained):
    """tools/test_vocab.py trains its BPE on a small text and stops near 2600 tokens: pad the
    list with unused tokens up to vocab_size so the embedding and output matrices have the
    real shape (the bench never tokenizes text)."""
    def add_bpe_vocab(writer, pre="llama-bpe", vocab_size=1000):
        class Padded:
            def __getattr__(self, name):
                return getattr(writer, name)

            def add_token_list(self, tokens):
                writer.add_token_list(list(tokens) + [f"<|unused_{i}|>"
                                                      for i in range(vocab_size - len(tokens))])

            def add_token_types(self, types):
                writer.add_token_types(list(types) + [types[0]] * (vocab_size - len(types)))

        trained(Padded(), pre=pre, vocab_size=vocab_size)
        return vocab_size
    return add_bpe_vocab


def small_model():
    path = os.path.join(OUT_DIR, "llama-24m-q8_0.gguf")
    if os.path.exists(path):
        return path
    import test_vocab
    from make_tiny_model import make_tiny_model
    os.makedirs(OUT_DIR, exist_ok=True)
    trained = test_vocab.add_bpe_vocab
    test_vocab.add_bpe_vocab = _padded_bpe_vocab(trained)
    try:
        make_tiny_model(path, "llama", "q8_0", 0, "bpe", **SMALL)
    finally:
        test_vocab.add_bpe_vocab = trained
    return path


if __name__ == "__main__":
    print(small_model())
