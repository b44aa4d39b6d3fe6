# What pipelines/run.sh and pipelines/lock.sh share: the pinned versions and where torch's CPU wheel comes from.
TORCH_VERSION="2.13.0"
UV_VERSION="0.13.9"
LOCK_PYTHON="3.11"

# Source options for torch: for the CPU build, a local pip find-links folder that holds the wheel
# (pip's own configuration says where), else PyTorch's CPU index; the CUDA build is on PyPI.
torch_sources() {
    [ "$1" = cpu ] || return 0
    local dir
    for dir in $(python3 -m pip config list 2>/dev/null | sed -n "s/^[a-z:]*\.find-links='\(.*\)'$/\1/p" | tr ' ' '\n' | sort -u); do
        if compgen -G "$dir/torch-$TORCH_VERSION+cpu-*.whl" >/dev/null; then
            echo "--find-links $dir"
            return 0
        fi
    done
    echo "--extra-index-url https://download.pytorch.org/whl/cpu"
}
