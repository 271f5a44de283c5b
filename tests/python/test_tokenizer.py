"""Tokenizer checks: `lockstep tokenize` against llama.cpp (llama-cpp-python, vocab_only).

Vocabularies: the real Gemma 3 model (SPM, add_space_prefix false, many user-defined
whitespace tokens), a SentencePiece vocab trained by tools/test_vocab.py with
add_space_prefix true, and byte-level BPE vocabs with pre "llama-bpe", "qwen2", "smollm",
"gpt-2" and "default" (trained without a pre-split, so their merges cross the boundaries
each pre-tokenizer draws: a wrong split shows up as different ids).
Every case must give the same ids as llama.cpp, with and without BOS and special-token
parsing; decoding must give the same bytes as llama.cpp's token_to_piece.
"""
import ctypes
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "build", "lockstep")
GEMMA = os.path.join(ROOT, "models", "default.gguf")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import test_vocab as vocab_tools  # noqa: E402

TEXT = (
    "Hello world! The quick brown fox jumps over the lazy dog.\n"
    "I don't know, I'M sure they'll say it's 'fine' — we'd've LOVED it.\n"
    "今天天气很好，我们去公园散步吧。机器学习模型。\n"
    "Emoji: 😀 🎉 👍🏽 ❤️ 🇫🇷 and math ∑ x² ≤ 3.14159\n"
    "def f(x):\n    return [i * 2 for i in range(x)]  # comment\n"
    "\tTabs\tand    runs     of spaces   \n\n\n"
    "Numbers 1234567890 12 3 4.5e10 ١٢٣ and Ünïcödé façade naïve\n"
    "\r\nWindows line\r\n  \n end   "
)

EDGE_CASES = [
    b"",
    b" ",
    b"  ",
    b"\n",
    b"\n\n\n",
    b" \n \n",
    b"a",
    b"don't DON'T Don'T it'S we'LL",
    b"    leading spaces",
    b"trailing spaces    ",
    b"\xff\xfe invalid \xc3\x28 bytes \xe2\x82 here \x80\x80 \xed\xa0\x80 end \xf0\x9f",
    b"\xe4\xb8",
    b"x\x00y\x01\x1c\x1d\x7f",
    "\u00a0nbsp\u2003em\u3000ideographic\u0085nel".encode(),
    "<start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\n".encode(),
    b"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    b"<|im_start|>user\nHi<|im_end|>\n<|endoftext|>",
    b"<s>text</s><unk><mask><0x41>",
    b"1 12 123 1234 12345 123456 1234567890 0987654321",
    b"Call 1234567890 or 0987654321: DON'T, WON'T, I'LL, YOU'RE, WE'D, IT'S. IT'SELF DON'TS",
    b"$x+=y; a<b>=c^d~e|f `tick` \\ back {}[]()!?@#%&*_-",
    b"\xd9\xa1\xd9\xa2\xd9\xa3 \xc2\xb2\xc2\xb3 \xe2\x85\xa0\xe2\x85\xa1 \xe2\x91\xa0",
]

_tmp = tempfile.TemporaryDirectory(prefix="lockstep-tokenizer-")
_vocabs = {}
_llamas = {}


def vocab(kind):
    """Path of a test vocabulary GGUF (built once per run)."""
    if kind == "gemma":
        return GEMMA
    if kind not in _vocabs:
        path = os.path.join(_tmp.name, f"vocab-{kind}.gguf")
        if kind == "spm":
            vocab_tools.write_vocab_only(path, "spm", add_space_prefix=True)
        else:
            vocab_tools.write_vocab_only(path, "bpe", pre=kind)
        _vocabs[kind] = path
    return _vocabs[kind]


def reference(path):
    import llama_cpp

    if path not in _llamas:
        _llamas[path] = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    return _llamas[path]


def ours(path, text, add_bos, special):
    with tempfile.NamedTemporaryFile(dir=_tmp.name, delete=False) as f:
        f.write(text)
    args = [BINARY, "tokenize", "-m", path, "-f", f.name]
    if not add_bos:
        args.append("--no-bos")
    if special:
        args.append("--parse-special")
    r = subprocess.run(args, capture_output=True)
    os.unlink(f.name)
    assert r.returncode == 0, f"lockstep tokenize failed ({r.returncode}): {r.stderr!r}"
    lines = r.stdout.decode().split("\n")
    assert len(lines) == 2 and lines[1] == "", f"want one line of ids, got {r.stdout!r}"
    return [int(x) for x in lines[0].split()]


def decode_ours(path, ids, render_special=False):
    with tempfile.NamedTemporaryFile("w", dir=_tmp.name, delete=False) as f:
        f.write(" ".join(map(str, ids)))
    args = [BINARY, "tokenize", "-m", path, "--decode", "-f", f.name]
    if render_special:
        args.append("--render-special")
    r = subprocess.run(args, capture_output=True)
    os.unlink(f.name)
    assert r.returncode == 0, f"lockstep tokenize --decode failed: {r.stderr!r}"
    return r.stdout


def piece_reference(llm, token, special):
    import llama_cpp

    size = 256
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_token_to_piece(llm._model.vocab, token, buf, size, 0, special)
    assert 0 <= n <= size, f"llama.cpp piece of {token}: {n}"
    return buf.raw[:n]


def compare_all(kind, texts):
    path = vocab(kind)
    llm = reference(path)
    failures = []
    for text in texts:
        for add_bos in (True, False):
            for special in (False, True):
                want = llm.tokenize(text, add_bos=add_bos, special=special)
                got = ours(path, text, add_bos, special)
                if got != want:
                    failures.append(f"{kind} text={text[:80]!r} add_bos={add_bos} special={special}\n"
                                    f"  llama.cpp: {want}\n  lockstep:  {got}")
        ids = llm.tokenize(text, add_bos=False, special=False)
        want_bytes = b"".join(piece_reference(llm, t, False) for t in ids)
        got_bytes = decode_ours(path, ids)
        if got_bytes != want_bytes:
            failures.append(f"{kind} decode of {text[:80]!r}\n  llama.cpp: {want_bytes!r}\n"
                            f"  lockstep:  {got_bytes!r}")
    assert not failures, "\n".join(failures[:10]) + f"\n({len(failures)} failing cases)"


def gpl_head():
    with open("/usr/share/common-licenses/GPL-3", "rb") as f:
        return f.read(3000)


def all_texts():
    return [TEXT.encode()] + EDGE_CASES + [gpl_head()]


def test_gemma_matches_llama_cpp():
    compare_all("gemma", all_texts())


def test_spm_vocab_matches_llama_cpp():
    compare_all("spm", all_texts())


def test_llama_bpe_vocab_matches_llama_cpp():
    compare_all("llama-bpe", all_texts())


def test_qwen2_vocab_matches_llama_cpp():
    compare_all("qwen2", all_texts())


def test_other_bpe_pre_tokenizers_match_llama_cpp():
    for kind in ("smollm", "gpt-2", "default"):
        compare_all(kind, all_texts())


def check_every_piece(kind):
    """Decoding each id of the vocabulary alone gives llama.cpp's bytes, for plain and
    render-special decoding."""
    path = vocab(kind)
    llm = reference(path)
    n = llm.n_vocab()
    ids = list(range(n))
    for special in (False, True):
        want = [piece_reference(llm, t, special) for t in ids]
        got = decode_ours(path, ids, render_special=special)
        joined = b"".join(want)
        if got != joined:
            offset = 0
            for t, piece in enumerate(want):
                if got[offset:offset + len(piece)] != piece:
                    raise AssertionError(f"{kind} special={special}: token {t} llama.cpp {piece!r}, "
                                         f"lockstep {got[offset:offset + len(piece) + 8]!r}...")
                offset += len(piece)
            raise AssertionError(f"{kind} special={special}: {len(got)} bytes, want {len(joined)}")


def test_gemma_every_piece():
    check_every_piece("gemma")


def test_test_vocabs_every_piece():
    for kind in ("spm", "llama-bpe", "qwen2", "smollm", "gpt-2", "default"):
        check_every_piece(kind)


def test_roundtrip_text():
    """Where llama.cpp gives the text back from its ids, so do we (decode(encode(t)) == t)."""
    checked = 0
    for kind in ("gemma", "spm", "llama-bpe", "qwen2"):
        path = vocab(kind)
        for text in [TEXT.encode(), gpl_head()]:
            ids = ours(path, text, add_bos=False, special=False)
            got = decode_ours(path, ids)
            want = b"".join(piece_reference(reference(path), t, False) for t in ids)
            assert got == want, f"{kind}: decode differs from llama.cpp"
            if kind != "spm":  # the trained SPM adds a leading space by design
                assert got == text, f"{kind}: round trip lost bytes: {got[:120]!r}"
                checked += 1
    assert checked == 6


def test_bad_input_exit_code():
    cases = [
        [BINARY, "tokenize", "-m", os.path.join(_tmp.name, "missing.gguf"), "-p", "x"],
        [BINARY, "tokenize", "-m", GEMMA, "-p", "x", "--bogus"],
        [BINARY, "tokenize", "-m", GEMMA],
        [BINARY, "tokenize", "-m", GEMMA, "--decode", "-p", "1 2 notanid"],
        [BINARY, "tokenize", "-m", GEMMA, "--decode", "-p", "99999999"],
    ]
    not_gguf = os.path.join(_tmp.name, "not.gguf")
    with open(not_gguf, "wb") as f:
        f.write(b"GGUF\x03\x00\x00\x00garbage")
    cases.append([BINARY, "tokenize", "-m", not_gguf, "-p", "x"])
    for args in cases:
        r = subprocess.run(args, capture_output=True)
        assert r.returncode == 2, f"{args[2:]}: exit {r.returncode}, want 2"
        assert r.stderr.count(b"\n") == 1 and r.stdout == b"", f"{args[2:]}: {r.stderr!r} {r.stdout!r}"
