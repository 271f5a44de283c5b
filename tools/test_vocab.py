#!/usr/bin/env python3
"""test_vocab.py — small, deterministic tokenizer vocabularies for test GGUF files.

  add_spm_vocab(writer, vocab_size=1000, add_space_prefix=True)
      SentencePiece BPE with byte fallback -> tokenizer.ggml.model "llama"
  add_bpe_vocab(writer, pre="llama-bpe", vocab_size=1000)
      byte-level BPE (HF `tokenizers`) -> tokenizer.ggml.model "gpt2", pre one of
      BPE_FAMILIES ("llama-bpe", "qwen2", "smollm", "gpt-2", "default")
  write_vocab_only(path, kind, **kw)
      a GGUF with general.architecture "llama", minimal llama.* hyperparameters and one of
      the vocabularies above (kind "spm" or "bpe"), no tensors: what llama.cpp's
      vocab_only load needs.

Both vocabularies are trained on /usr/share/common-licenses/GPL-3 plus the lines in
EXTRA_TEXT (Chinese, emoji, code), single-threaded, so the same call gives the same file.
Run as a script to write examples: tools/test_vocab.py OUT_DIR
"""
import io
import os
import sys

GPL3_PATH = "/usr/share/common-licenses/GPL-3"

EXTRA_TEXT = """\
今天天气很好，我们去公园散步吧。
机器学习模型需要大量的数据来训练。
你好，世界！这是一个测试。
Emoji time 😀 🎉 👍🏽 ❤️ 🚀 and flags 🇫🇷 🇯🇵.
def tokenize(text: str) -> list[int]:
    return [ord(c) for c in text if c != ' ']
for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }
    if (x == NULL) return -1;  // don't crash
I'M sure you'll see it's 2024, they've 1234567 items and we'd said 3.14159.
"""
# Repeated so that merges across digit groups and upper-case contractions get learned.
EXTRA_TEXT += "Call 1234567890 or 0987654321: DON'T, WON'T, I'LL, YOU'RE, WE'D, IT'S.\n" * 20

# llama.cpp's token types (gguf TokenType).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

BPE_FAMILIES = {
    # tokenizer.ggml.pre: (special tokens, bos, eos, add_bos_token)
    "llama-bpe": (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"],
                  "<|begin_of_text|>", "<|end_of_text|>", True),
    "qwen2": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
              "<|endoftext|>", "<|endoftext|>", False),
    "smollm": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
               "<|endoftext|>", "<|endoftext|>", False),
    "gpt-2": (["<|endoftext|>"], "<|endoftext|>", "<|endoftext|>", False),
    "default": (["<|endoftext|>"], "<|endoftext|>", "<|endoftext|>", False),
}


def training_lines():
    """The training text as lines (GPL-3 then EXTRA_TEXT)."""
    with open(GPL3_PATH, encoding="utf-8") as f:
        text = f.read()
    return text.splitlines() + EXTRA_TEXT.splitlines()


def add_spm_vocab(writer, vocab_size=1000, add_space_prefix=True):
    """Trains a SentencePiece BPE model with byte fallback and writes it as a "llama" vocab.
    Control symbols <start_of_turn>/<end_of_turn> and a user-defined <mask> are included.
    Returns the vocabulary size."""
    import sentencepiece as spm

    model = io.BytesIO()
    lines = [line for line in training_lines() if line.strip()]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
        model_type="bpe", byte_fallback=True, character_coverage=0.9995,
        num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        control_symbols=["<start_of_turn>", "<end_of_turn>"],
        user_defined_symbols=["<mask>"],
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    n = sp.get_piece_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        tokens.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(UNKNOWN)
        elif sp.is_control(i):
            types.append(CONTROL)
        elif sp.is_byte(i):
            types.append(BYTE)
        elif sp.is_unused(i):
            types.append(UNUSED)
        elif tokens[-1] == "<mask>":
            types.append(USER_DEFINED)
        else:
            types.append(NORMAL)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(bool(add_space_prefix))
    return n


def gpt2_byte_alphabet():
    """GPT-2's bytes_to_unicode(): printable bytes map to themselves, the rest to U+0100..."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
            + list(range(0xAE, 0xFF + 1)))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def add_bpe_vocab(writer, pre="llama-bpe", vocab_size=1000):
    """Trains a byte-level BPE and writes it as a
    "gpt2" vocab with tokenizer.ggml.pre = pre. Returns the vocabulary size."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    import json

    if pre not in BPE_FAMILIES:
        raise ValueError(f"unknown pre {pre!r}: one of {sorted(BPE_FAMILIES)}")
    specials, bos, eos, add_bos = BPE_FAMILIES[pre]
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    tok = Tokenizer(models.BPE())
    # Trained on whole lines (no regex split): merges then cross the boundaries the
    # family's pre-tokenizer draws (" 1", "23", "'M", ", "), so a tokenizer that splits
    # text differently from llama.cpp gets different ids.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(specials), min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    lines = [line + "\n" for line in training_lines()]
    tok.train_from_iterator(lines, trainer=trainer)
    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    merges = state["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    assert all(t is not None for t in tokens)
    types = [NORMAL] * len(tokens)
    for s in specials:
        tokens.append(s)
        types.append(CONTROL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(bos))
    writer.add_eos_token_id(tokens.index(eos))
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(False)
    return len(tokens)


def write_vocab_only(path, kind, **kw):
    """Writes a tensor-less GGUF (architecture "llama") holding one vocabulary.
    kind: "spm" (kw as add_spm_vocab) or "bpe" (kw as add_bpe_vocab); a BPE_FAMILIES name
    ("llama-bpe", "qwen2", ...) is a shorthand for kind="bpe", pre=kind. Returns n_vocab."""
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("lockstep test vocab")
    writer.add_context_length(256)
    writer.add_embedding_length(64)
    writer.add_block_count(1)
    writer.add_feed_forward_length(128)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(32)
    writer.add_layer_norm_rms_eps(1e-5)
    if kind == "spm":
        n = add_spm_vocab(writer, **kw)
    elif kind == "bpe":
        n = add_bpe_vocab(writer, **kw)
    elif kind in BPE_FAMILIES:
        n = add_bpe_vocab(writer, pre=kind, **kw)
    else:
        raise ValueError(f"unknown vocab kind {kind!r}")
    writer.add_vocab_size(n)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return n


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    for kind in ("spm",) + tuple(BPE_FAMILIES):
        path = os.path.join(out, f"vocab-{kind}.gguf")
        print(path, write_vocab_only(path, kind))
