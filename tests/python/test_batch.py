"""Batch invariance across sequences: a sequence decoded alone or in calls mixed with 1, 3 or
7 other sequences gives the same logits bits (tests/python/batch_driver.c drives the
runtime's multi-sequence API). Also checks that the comparison can fail: two different
sequences do not give the same rows."""
import os
import subprocess
import tempfile

from common import DEFAULT_MODEL, ROOT, tiny_model

_driver = None


def driver():
    global _driver
    if _driver is None:
        out = os.path.join(tempfile.mkdtemp(), "batch_driver")
        subprocess.run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Isrc", "-o", out,
                        "tests/python/batch_driver.c", "build/liblockstep.a", "-lpthread",
                        "-lm"], cwd=ROOT, check=True)
        _driver = out
    return _driver


def check(model, others, threads=2):
    r = subprocess.run([driver(), model, str(others), str(threads)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.startswith("identical"), \
        f"{os.path.basename(model)} with {others} others: {r.stdout} {r.stderr}"


def test_tiny_models_batched_with_1_3_7_others():
    for arch, wt, vocab in (("llama", "q4_k", "bpe"), ("qwen2", "q8_0", "bpe"),
                            ("qwen3", "bf16", "bpe"), ("gemma3", "mixed", "spm")):
        model = tiny_model(arch, wt, vocab=vocab)
        for others in (1, 3, 7):
            check(model, others, threads=3 if others == 3 else 2)


def test_default_model_batched_with_3_others():
    check(DEFAULT_MODEL, 3)
