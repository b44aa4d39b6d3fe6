#!/usr/bin/env bash
# Set up everything dcign needs (idempotent; seconds when already done), then run "$@" inside it.
#   bash pipelines/run.sh dvc repro     # the main job
#   bash pipelines/run.sh pytest        # the tests
# Set-up: Mesa EGL system libraries (apt, when missing), a virtual environment at .venv/ holding
# exactly the locked dependencies (pipelines/locks/: the CPU lock, or the CUDA one where an NVIDIA
# GPU is present; installed by uv, itself locked; regenerate with bash pipelines/lock.sh), this
# project in editable mode, onnxruntime-web for the explorer pages (npm ci of its package-lock.json)
# and, for the tests, Chromium (apt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
source pipelines/sources.sh

say() { printf 'dcign setup: %s\n' "$*" >&2; }

has_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

egl_ready() {
    has_lib 'libEGL.so.1' && has_lib 'libGL.so.1' || return 1
    has_lib 'libEGL_nvidia.so.0' && return 0
    has_lib 'libEGL_mesa.so.0' && compgen -G '/usr/lib/*/dri/swrast_dri.so' >/dev/null
}

ensure_egl() {
    egl_ready && return 0
    local pkgs="libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2 libopengl0"
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "EGL libraries are missing and cannot be installed here (need root and apt-get): install $pkgs"
        exit 1
    fi
    say "installing Mesa EGL libraries: $pkgs"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
    egl_ready || { say "EGL libraries still missing after apt-get install $pkgs"; exit 1; }
}

has_cuda() { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment at .venv/"
        python3 -m venv "$VENV"
    fi
    local variant=cpu
    has_cuda && variant=cuda
    local lock="pipelines/locks/$variant.txt"
    local stamp="$VENV/.dcign-setup"
    local want
    want="$(cat setup.cfg pyproject.toml pipelines/sources.sh pipelines/locks/*.txt | sha256sum | cut -c1-16) $variant"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    "$VENV/bin/python" -m pip --disable-pip-version-check -q install --require-hashes --no-deps -r pipelines/locks/uv.txt
    local uv=("$VENV/bin/uv" pip --quiet)
    local python sources
    python="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    sources="$(torch_sources "$variant")"
    if [ "$python" = "$LOCK_PYTHON" ]; then
        say "installing the locked dependencies ($lock)"
        # shellcheck disable=SC2086
        "${uv[@]}" sync --python "$VENV/bin/python" --require-hashes $sources "$lock"
    else
        say "the locks are for Python $LOCK_PYTHON and this is $python: installing the newest versions setup.cfg allows," \
            "not locked (bash pipelines/lock.sh with LOCK_PYTHON=$python in pipelines/sources.sh makes locks for it)"
        local torch="torch==$TORCH_VERSION"
        [ "$variant" = cpu ] && torch="$torch+cpu"
        # shellcheck disable=SC2086
        "${uv[@]}" install --python "$VENV/bin/python" $sources "$torch" -e ".[test,ray]"
    fi
    "${uv[@]}" install --python "$VENV/bin/python" --no-deps -e .
    echo "$want" > "$stamp"
}

apt_install() {  # apt_install <what for> <packages...>
    local why="$1"
    shift
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "$why needs $* and they cannot be installed here (need root and apt-get): install them"
        exit 1
    fi
    say "installing $* ($why)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_page_runtime() {  # onnxruntime-web for the explorer pages, exactly as package-lock.json says
    local page="train/explorer"
    local stamp="$page/node_modules/.dcign-setup"
    local want
    want="$(sha256sum "$page/package-lock.json" | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    command -v npm >/dev/null || apt_install "the explorer page's runtime" nodejs npm
    say "installing onnxruntime-web ($page/package-lock.json)"
    npm ci --prefix "$page" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
    echo "$want" > "$stamp"
}

browser() { command -v chromium || command -v chromium-browser; }

ensure_browser() {  # the tests open the explorer page in a real browser
    browser >/dev/null && return 0
    apt_install "the browser tests" chromium
    browser >/dev/null || { say "chromium still missing after apt-get install chromium"; exit 1; }
}

ensure_egl
ensure_venv
ensure_page_runtime
if [ "${1:-}" = pytest ]; then ensure_browser; fi

export PATH="$VENV/bin:$PATH"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
# Python may cache compiled modules here even where the machine says not to: each of a run's ~16
# processes would otherwise compile its imports again (about 10 s each for torch, sklearn and
# dvc). The caches stay out of git (.gitignore) and out of the stages' code hashes (.dvcignore).
unset PYTHONDONTWRITEBYTECODE
[ "$#" -gt 0 ] || { say "ready; pass a command to run, e.g. 'dvc repro' or 'pytest'"; exit 0; }
exec "$@"
