#!/usr/bin/env bash
# Regenerate the dependency locks that pipelines/run.sh installs: exact versions, with hashes, of
# everything setup.cfg needs (with its test and ray extras), for CPython 3.11 on Linux x86_64:
#   pipelines/locks/cpu.txt   torch==2.13.0+cpu (PyTorch's CPU wheel, or the same file from a local pip find-links)
#   pipelines/locks/cuda.txt  torch==2.13.0 from PyPI, with its CUDA libraries
#   pipelines/locks/uv.txt    the installer itself
# Use: bash pipelines/lock.sh   (then commit the three files; run.sh re-installs when they change).
# Pins already in a lock stay unless a changed requirement needs another version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source pipelines/sources.sh

TOOL="$(mktemp -d)"
trap 'rm -rf "$TOOL"' EXIT
python3 -m venv "$TOOL/venv"
"$TOOL/venv/bin/python" -m pip install -q --require-hashes --no-deps -r pipelines/locks/uv.txt
UV="$TOOL/venv/bin/uv"

compile() {  # compile <lock> <torch pin> [source options]
    local lock="$1" torch="$2"
    shift 2
    echo "torch==$torch" > "$TOOL/torch.txt"
    cp "pipelines/locks/$lock" "$TOOL/out.txt"  # the resolver keeps every existing pin it can
    "$UV" pip compile setup.cfg --extra test --extra ray --python-version "$LOCK_PYTHON" \
        --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet \
        -c "$TOOL/torch.txt" "$@" -o "$TOOL/out.txt"
    { echo "# dcign dependency lock for CPython $LOCK_PYTHON, Linux x86_64; regenerate with: bash pipelines/lock.sh"
      sed "s#$TOOL/torch.txt#the torch pin of pipelines/sources.sh#" "$TOOL/out.txt"; } > "pipelines/locks/$lock"
    echo "pipelines/locks/$lock: $(grep -c '^[a-z0-9].*==' "pipelines/locks/$lock") packages"
}

compile cpu.txt "$TORCH_VERSION+cpu" $(torch_sources cpu)
compile cuda.txt "$TORCH_VERSION"
echo "uv==$UV_VERSION" > "$TOOL/uv.in"
"$UV" pip compile "$TOOL/uv.in" --python-version "$LOCK_PYTHON" --generate-hashes --no-header --quiet -o "$TOOL/uv.txt"
sed "s#$TOOL/uv.in#the uv pin of pipelines/sources.sh#" "$TOOL/uv.txt" > pipelines/locks/uv.txt
