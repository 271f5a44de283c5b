"""ls_dequantize_row against gguf.quants.dequantize (the gguf package's numpy reference),
bit for bit, for every weight type lockstep reads.

Random blocks: random bytes for the quants, random finite f16 scales (NaN/inf scale patterns
excluded, subnormals included). F16 and BF16 cover every special: all 65536 halves, and
bfloat16 zeros, subnormals, infinities and NaNs. A small driver (dequant_driver.c) is built
once against build/liblockstep.a and run on raw rows."""
import os
import subprocess
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCKS = 96

# type: (ids, block elements, block bytes, byte offsets of f16 scales in a block)
TYPES = {
    "Q4_0": (T.Q4_0, 32, 18, [0]),
    "Q5_0": (T.Q5_0, 32, 22, [0]),
    "Q8_0": (T.Q8_0, 32, 34, [0]),
    "Q4_K": (T.Q4_K, 256, 144, [0, 2]),
    "Q5_K": (T.Q5_K, 256, 176, [0, 2]),
    "Q6_K": (T.Q6_K, 256, 210, [208]),
}

_driver = None


def driver():
    global _driver
    if _driver is None:
        lib = os.path.join(ROOT, "build", "liblockstep.a")
        assert os.path.exists(lib), "build/liblockstep.a missing (run make)"
        out = os.path.join(tempfile.mkdtemp(prefix="lockstep-dequant-"), "dequant_driver")
        subprocess.run(["gcc", "-std=c11", "-O1", "-I" + os.path.join(ROOT, "src"),
                        os.path.join(ROOT, "tests", "python", "dequant_driver.c"), lib,
                        "-lm", "-lpthread", "-o", out], check=True)
        _driver = out
    return _driver


def run_lockstep(type_id, raw, n):
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in"), os.path.join(d, "out")
        with open(src, "wb") as f:
            f.write(np.uint32(type_id).tobytes() + np.uint64(n).tobytes() + raw.tobytes())
        r = subprocess.run([driver(), src, dst], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return np.fromfile(dst, dtype=np.float32)


def same_bits(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_got, nan_want), f"{what}: NaN positions differ"
    g, w = got.view(np.uint32)[~nan_got], want.view(np.uint32)[~nan_want]
    bad = np.nonzero(g != w)[0]
    assert bad.size == 0, (f"{what}: {bad.size} values differ, first at {bad[0]}: "
                           f"{got[~nan_got][bad[0]]!r} vs {want[~nan_want][bad[0]]!r}")


def random_finite_f16(rng, count):
    h = rng.integers(0, 65536, size=count, dtype=np.uint16)
    return np.where((h & 0x7C00) == 0x7C00, h & np.uint16(0xBFFF), h).astype(np.uint16)


def check_type(name, seed):
    type_id, elements, nbytes, scale_offsets = TYPES[name]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(BLOCKS, nbytes), dtype=np.uint8)
    for off in scale_offsets:
        blocks[:, off:off + 2] = random_finite_f16(rng, BLOCKS).view(np.uint8).reshape(BLOCKS, 2)
    # a few blocks with scales of 0 and of the largest half, and all-ones / all-zero quants
    blocks[0, :] = 0
    blocks[1, :] = 255
    for off in scale_offsets:
        blocks[1, off:off + 2] = np.array([0xFF, 0x7B], dtype=np.uint8)  # 65504
    raw = blocks.reshape(-1)
    want = dequantize(raw, type_id).reshape(-1).astype(np.float32)
    got = run_lockstep(int(type_id), raw, BLOCKS * elements)
    same_bits(got, want, name)


def test_q4_0():
    check_type("Q4_0", 1)


def test_q5_0():
    check_type("Q5_0", 2)


def test_q8_0():
    check_type("Q8_0", 3)


def test_q4_k():
    check_type("Q4_K", 4)


def test_q5_k():
    check_type("Q5_K", 5)


def test_q6_k():
    check_type("Q6_K", 6)


def test_f16_every_half():
    raw = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    want = dequantize(raw.view(np.uint8), T.F16).reshape(-1)
    got = run_lockstep(int(T.F16), raw, raw.size)
    same_bits(got, want, "F16")


def test_bf16_specials_and_random():
    specials = [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F,
                0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0x3F80, 0xC040]
    rng = np.random.default_rng(7)
    raw = np.concatenate([np.array(specials, dtype=np.uint16),
                          rng.integers(0, 65536, size=4096, dtype=np.uint16)])
    want = dequantize(raw.view(np.uint8), T.BF16).reshape(-1)
    got = run_lockstep(int(T.BF16), raw, raw.size)
    same_bits(got, want, "BF16")


def test_f32_passthrough():
    rng = np.random.default_rng(8)
    raw = rng.integers(0, 2**32, size=2048, dtype=np.uint32)
    raw[:4] = [0x7F800000, 0xFF800000, 0x00000001, 0x80000000]
    want = dequantize(raw.view(np.uint8), T.F32).reshape(-1)
    got = run_lockstep(int(T.F32), raw, raw.size)
    same_bits(got, want, "F32")


def test_driver_rejects_bad_type():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in")
        with open(src, "wb") as f:
            f.write(np.uint32(3).tobytes() + np.uint64(32).tobytes() + bytes(20))
        r = subprocess.run([driver(), src, os.path.join(d, "out")], capture_output=True, text=True)
        assert r.returncode == 2 and "bad type" in r.stderr, (r.returncode, r.stderr)
