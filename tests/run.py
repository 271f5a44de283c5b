#!/usr/bin/env python3
"""The whole lockstep test suite: builds, runs every check, prints one closing line.

  unit      build/tests/test_*       C unit tests (each CHECK prints "ok -"/"not ok -")
  asan      build-asan/tests/test_*  the same under AddressSanitizer + UBSan
  fuzz      build-fuzz/fuzz_*        libFuzzer on the file parsers, bounded time
  python    tests/python/test_*.py   end-to-end checks against independent references
                                     (llama.cpp via llama-cpp-python, the gguf package)

Usage: tests/run.py [-k SUBSTRING] [--only unit,asan,fuzz,python]
The last line is "N passed, M failed". Nothing is skipped: a check whose reference is
missing fails.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ_SECONDS = int(os.environ.get("LOCKSTEP_FUZZ_SECONDS", "60"))

passed = 0
failed = 0
failures = []


def record(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}", flush=True)
    else:
        failed += 1
        failures.append(name)
        print(f"not ok - {name} {detail}", flush=True)


def make(*targets):
    r = subprocess.run(["make", "-j2", "-s", *targets], cwd=ROOT)
    record(r.returncode == 0, "build " + " ".join(targets))
    return r.returncode == 0


def run_unit_dir(directory, label, pattern):
    if not os.path.isdir(directory):
        record(False, f"{label}: {directory} missing")
        return
    for name in sorted(os.listdir(directory)):
        if not name.startswith("test_") or name.endswith(".d") or pattern not in name:
            continue
        path = os.path.join(directory, name)
        start = time.time()
        r = subprocess.run([path], cwd=ROOT, capture_output=True, text=True, timeout=1800)
        seen = 0
        for line in r.stdout.splitlines():
            if line.startswith("ok - "):
                seen += 1
                record(True, f"{label}/{name}: {line[5:]}")
            elif line.startswith("not ok - "):
                seen += 1
                record(False, f"{label}/{name}: {line[9:]}")
        if r.returncode != 0 and (seen == 0 or "not ok" not in r.stdout):
            record(False, f"{label}/{name} exited {r.returncode}", r.stderr[-2000:])
        elif seen == 0:
            record(False, f"{label}/{name} ran no check")
        print(f"# {label}/{name}: {time.time() - start:.1f}s", flush=True)


def run_python(pattern):
    tests_dir = os.path.join(ROOT, "tests", "python")
    sys.path.insert(0, tests_dir)
    for fname in sorted(os.listdir(tests_dir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(tests_dir, fname))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:
            record(False, f"python/{fname}: import", traceback.format_exc()[-3000:])
            continue
        for name in sorted(dir(module)):
            if not name.startswith("test_") or pattern not in f"{fname}::{name}":
                continue
            fn = getattr(module, name)
            if not callable(fn):
                continue
            start = time.time()
            try:
                fn()
                record(True, f"python/{fname}::{name}")
            except Exception:
                record(False, f"python/{fname}::{name}", "\n" + traceback.format_exc()[-3000:])
            print(f"# {fname}::{name}: {time.time() - start:.1f}s", flush=True)


def run_fuzz(pattern):
    directory = os.path.join(ROOT, "build-fuzz")
    corpus_root = os.path.join(ROOT, "fuzz", "corpus")
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith("fuzz_") or pattern not in name or not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue  # the corpus folders and .d files beside the fuzzers
        work = os.path.join(directory, name + ".corpus")
        os.makedirs(work, exist_ok=True)
        seeds = os.path.join(corpus_root, name[len("fuzz_"):])
        args = [path, f"-max_total_time={FUZZ_SECONDS}",
                "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1", work]
        if os.path.isdir(seeds):
            args.append(seeds)
        r = subprocess.run(args, cwd=directory, capture_output=True, text=True)
        record(r.returncode == 0, f"fuzz/{name} for {FUZZ_SECONDS}s without findings",
               r.stderr[-3000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="")
    ap.add_argument("--only", default="unit,asan,fuzz,python")
    args = ap.parse_args()
    parts = args.only.split(",")
    start = time.time()
    if "unit" in parts and make("tests"):
        run_unit_dir(os.path.join(ROOT, "build", "tests"), "unit", args.k)
    if "asan" in parts and make("asan"):
        run_unit_dir(os.path.join(ROOT, "build-asan", "tests"), "asan", args.k)
    # The fuzzers run before the Python tests: libFuzzer's RSS limit reads the peak RSS, which
    # a child inherits from this runner once the Python tests have held their large arrays.
    if "fuzz" in parts and make("fuzz"):
        run_fuzz(args.k)
    if "python" in parts and make("all"):
        run_python(args.k)
    print(f"# {time.time() - start:.0f}s", flush=True)
    for name in failures:
        print(f"# FAILED {name}")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
