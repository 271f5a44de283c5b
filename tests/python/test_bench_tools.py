"""The comparison benchmark's tools (bench/compare.py): the lockstep driver, the read passes
the roofline takes its bandwidth from, and the llama.cpp worker, each run briefly on a tiny
model so `make bench` cannot rot unnoticed. No timings are judged: only that every figure
is there, positive, and consistent with what was asked."""
import os
import subprocess
import sys

from common import ROOT, VENV_PYTHON, tiny_model

sys.path.insert(0, os.path.join(ROOT, "bench"))
import compare  # noqa: E402


def figures(stdout):
    out = stdout.split()
    assert len(out) % 2 == 0, stdout
    return dict(zip(out[0::2], map(float, out[1::2])))


def test_read_passes():
    compare.build_driver()
    lib = compare.read_pass_library()
    assert not lib.lsb_reader_create(1 << 20, 0)    # threads out of range
    assert not lib.lsb_reader_create(1 << 20, 65)
    assert not lib.lsb_reader_create(100, 2)        # smaller than a share
    for threads in (1, 2, 3):
        reader = lib.lsb_reader_create(4 << 20, threads)
        assert reader
        ms = [lib.lsb_reader_pass_ms(reader) for _ in range(3)]
        lib.lsb_reader_free(reader)
        # 4 MiB read in more than 4 us (1 TB/s) and less than 2 s (2 MB/s)
        assert all(0.004 < m < 2000 for m in ms), ms


def test_driver_paired_mode():
    compare.build_driver()
    model = tiny_model("llama", "q8_0", ctx=1024)
    run = lambda *a: subprocess.run([compare.DRIVER, model, "2", *map(str, a)],
                                    capture_output=True, text=True, timeout=120)
    r = run(4, 16, 32)
    assert r.returncode == 0, r.stderr
    v = figures(r.stdout)
    assert set(v) == {"prefill_ms", "ttft_ms", "decode_ms"} and min(v.values()) > 0, v
    r = run(4, 16, 32, 16, 1 << 20)
    assert r.returncode == 0, r.stderr
    v = figures(r.stdout)
    assert set(v) == {"prefill_ms", "ttft_ms", "decode_ms", "paired_token_ms",
                      "paired_read_ms"} and min(v.values()) > 0, v
    for bad in ((0, 16, 32), (4, 16, 0), (4, 16, 32, 17, 1 << 20)):  # PAIRED > DECODE
        r = run(*bad)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (bad, r.stderr)


def test_llama_worker_paired_mode():
    model = tiny_model("llama", "q8_0", ctx=1024)
    r = subprocess.run([VENV_PYTHON, os.path.join(ROOT, "bench", "compare.py"), "--llama-worker",
                        model, "-t", "2", "--paired-bytes", str(1 << 20)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    v = figures(r.stdout)
    assert set(v) == {"prefill_ms", "ttft_ms", "decode_ms", "paired_token_ms",
                      "paired_read_ms"} and min(v.values()) > 0, v


def test_bytes_per_token():
    """Weights (the embedding table only when it is also the output) plus the mean KV rows
    the decoded positions read, worked out from the model's shape."""
    import gguf

    model = tiny_model("llama", "q8_0", ctx=1024)
    r = gguf.GGUFReader(model)
    names = {t.name for t in r.tensors}
    weights = sum(int(t.n_bytes) for t in r.tensors
                  if t.name != "token_embd.weight" or "output.weight" not in names)
    # llama defaults: 2 layers, 2 KV heads of 64; positions 16..16+n-1 see p + 1 keys
    n = 8
    kv = 2 * sum(p + 1 for p in range(compare.PROMPT, compare.PROMPT + n)) / n * 2 * 2 * 64 * 4
    assert abs(compare.bytes_per_token(model, n) - (weights + kv)) < 1e-6 * weights
