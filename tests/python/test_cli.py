"""The command line: --help everywhere, and bad input → one line on stderr, exit code 2.

Corrupted models are made from a valid tiny model by flipping the fields the GGUF reader
must validate; the real reader tests (every truncation, every field) are in
tests/unit/test_gguf.c and the fuzzer. Here we check the whole path a user sees."""
import os
import struct
import subprocess
import tempfile

from common import DEFAULT_MODEL, LOCKSTEP, ROOT, tiny_model

COMMANDS = ["run", "chat", "eval", "tokenize", "compile"]


def lockstep(*args, stdin=None, timeout=120):
    return subprocess.run([LOCKSTEP, *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=timeout)


def assert_bad_input(r, words):
    assert r.returncode == 2, f"exit {r.returncode}, stderr: {r.stderr!r}"
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("  ")]
    assert len(lines) == 1, f"want one line on stderr, got {r.stderr!r}"
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in {lines[0]!r}"


def test_help_on_every_subcommand():
    r = lockstep("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in COMMANDS), r.stdout
    for c in COMMANDS:
        r = lockstep(c, "--help")
        assert r.returncode == 0 and r.stdout.startswith("usage: lockstep " + c), (c, r.stdout)


def test_unknown_command_and_flags():
    r = lockstep("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    for c in COMMANDS:
        assert_bad_input(lockstep(c, "--no-such-flag"), ["unknown option"])
    assert_bad_input(lockstep("run", "-p", "hi", "-n", "lots"), ["-n", "integer"])
    assert_bad_input(lockstep("run", "-p", "hi", "--temp", "-1"), ["--temp"])
    assert_bad_input(lockstep("run", "-p", "hi", "--top-p", "2"), ["--top-p"])
    assert_bad_input(lockstep("run", "-p", "hi", "-t", "0"), ["-t"])
    assert_bad_input(lockstep("run", "-p"), ["needs a value"])
    assert_bad_input(lockstep("run"), ["prompt"])
    assert_bad_input(lockstep("eval", "-m", DEFAULT_MODEL), ["exactly one"])


def test_missing_and_unreadable_model_files():
    assert_bad_input(lockstep("run", "-m", "/nonexistent/model.gguf", "-p", "x"),
                     ["cannot open", "/nonexistent/model.gguf"])
    assert_bad_input(lockstep("run", "-m", "/tmp", "-p", "x"), ["/tmp"])
    with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
        assert_bad_input(lockstep("run", "-m", f.name, "-p", "x"), [])  # empty file


def corrupt(src, dst, edit):
    data = bytearray(open(src, "rb").read())
    data = edit(data)
    with open(dst, "wb") as f:
        f.write(data)
    return dst


def test_corrupted_models():
    src = tiny_model("llama", "q8_0", vocab="bpe")
    size = os.path.getsize(src)
    cases = [
        ("wrong magic", lambda d: b"GGUX" + d[4:], ["magic"]),
        ("version 1", lambda d: d[:4] + struct.pack("<I", 1) + d[8:], ["version"]),
        ("absurd tensor count", lambda d: d[:8] + struct.pack("<Q", 1 << 60) + d[16:], ["tensor"]),
        ("absurd kv count", lambda d: d[:16] + struct.pack("<Q", 1 << 60) + d[24:], []),
        ("truncated header", lambda d: d[:200], []),
        ("truncated data", lambda d: d[:size - 1000], ["past the end"]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, edit, words in cases:
            path = corrupt(src, os.path.join(tmp, "bad.gguf"), edit)
            r = lockstep("run", "-m", path, "-p", "hello", "-n", "1")
            try:
                assert_bad_input(r, words)
            except AssertionError as e:
                raise AssertionError(f"{name}: {e}")


def test_unknown_architecture_and_tensor_type():
    import gguf
    import numpy as np
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mamba.gguf")
        w = gguf.GGUFWriter(path, "mamba")
        w.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        assert_bad_input(lockstep("eval", "-m", path, "--tokens", "/dev/null"),
                         ["architecture", "mamba"])
        path = os.path.join(tmp, "q2k.gguf")
        w = gguf.GGUFWriter(path, "llama")
        w.add_tensor("token_embd.weight", np.zeros((8, 84), dtype=np.uint8),
                     raw_dtype=gguf.GGMLQuantizationType.Q2_K)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        assert_bad_input(lockstep("eval", "-m", path, "--tokens", "/dev/null"), ["type"])


def test_prompt_longer_than_context():
    model = tiny_model("llama", "q8_0", vocab="bpe")
    assert_bad_input(lockstep("run", "-m", model, "-p", "word " * 200, "--ctx", "32"),
                     ["prompt", "context"])


def test_bad_token_files():
    model = tiny_model("llama", "q8_0", vocab="bpe")
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.txt")
        for text, words in [("1 2 x3", ["not a token id"]), ("1 2 99999999", ["vocabulary"]),
                            ("5", ["at least 2"])]:
            open(ids, "w").write(text)
            out = os.path.join(tmp, "logits.bin")
            assert_bad_input(lockstep("eval", "-m", model, "--tokens", ids, "--logits-out", out),
                             words)
            assert not os.path.exists(out) and not os.path.exists(out + ".partial")
