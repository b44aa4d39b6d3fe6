#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, set up, then
#   1. run the CUDA-only tests (pytest -m cuda: clamp on CUDA, bf16 autocast step, GPU-held data,
#      NCCL data-parallel training in one process),
#   2. `dcign bench train --device cuda` at F = 96 (grouped batches, and torch.compile),
#   3. render a slice of the paper profile's faces on NVIDIA EGL, shard it, and train the paper's
#      dcign_faces (F = 96) on it for a few thousand steps,
# and print one summary table. Each part's log is kept in the work folder.
#   bash pipelines/gpu_check.sh                       # about 5 minutes on an H100-class GPU
#   GPU_CHECK_STEPS=3000 GPU_CHECK_WORK=/tmp/gc bash pipelines/gpu_check.sh
# GPU_CHECK_DEVICE=cpu runs the same sequence on the CPU at tiny sizes, to check the script itself.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
WORK="${GPU_CHECK_WORK:-$ROOT/gpu-check}"
STEPS="${GPU_CHECK_STEPS:-3000}"
mkdir -p "$WORK"
cd "$ROOT"

say() { printf 'gpu check: %s\n' "$*" >&2; }
status=0
record() {  # record NAME RC: remember a part's exit status
    printf '%s\t%s\n' "$1" "$2" >> "$WORK/status.tsv"
    [ "$2" = 0 ] || status=1
}
: > "$WORK/status.tsv"

if [ "$DEVICE" = cuda ] && ! (command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1); then
    say "no NVIDIA GPU here (nvidia-smi finds none); GPU_CHECK_DEVICE=cpu checks the script on the CPU"
    exit 2
fi

say "set-up (pipelines/run.sh)"
bash pipelines/run.sh true > "$WORK/setup.log" 2>&1
record setup $?
PY="$ROOT/.venv/bin/python"
export PYOPENGL_PLATFORM=egl
"$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" \
    > "$WORK/torch.log" 2>&1
"$PY" -c "
import pyrender
from OpenGL.GL import GL_RENDERER, glGetString
r = pyrender.OffscreenRenderer(8, 8)
print(glGetString(GL_RENDERER).decode())
r.delete()" > "$WORK/egl.log" 2>&1

say "CUDA-only tests"
"$PY" -m pytest -m cuda -q -p no:cacheprovider tests > "$WORK/cuda-tests.log" 2>&1
rc=$?
[ "$rc" = 5 ] && [ "$DEVICE" = cpu ] && rc=0  # on the CPU every CUDA test is skipped
record cuda-tests $rc

if [ "$DEVICE" = cuda ]; then
    BENCH=(--feature-maps 96 --batches-per-step 8 --steps 20 --compile)
else
    BENCH=(--feature-maps 4 --latent-dim 8 --batch 4 --batches-per-step 2 --steps 1)
fi
say "training bench (${BENCH[*]})"
"$PY" -m pipelines.cli bench train --device "$DEVICE" "${BENCH[@]}" > "$WORK/bench.log" 2>&1
record bench $?

say "a slice of the paper profile: render, shard, train $STEPS steps"
"$PY" - "$ROOT/pipelines/profiles/paper.yaml" "$WORK/params.yaml" "$DEVICE" "$STEPS" <<'PYEOF'
import sys
import yaml

source, out, device, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
params = yaml.safe_load(open(source))
faces = params["faces"]
tiny = device != "cuda"
per_type = 2 if tiny else 100
faces["identities"] = {"train": 8 if tiny else 2000, "test": 4 if tiny else 200}
faces["batches"] = {"train": {t: per_type for t in faces["batches"]["train"]},
                    "test": {t: 1 for t in faces["batches"]["test"]}}
if tiny:
    faces.update(batch_size=4, supersample=1)
train = params["train"]["defaults"]
train.update(steps=steps, device=device, checkpoint_every=steps, log_every=max(1, steps // 10))
if tiny:
    train.update(feature_maps=4, latent_dim=8)
yaml.safe_dump(params, open(out, "w"), sort_keys=False)
PYEOF
record params $?
( time "$PY" -m pipelines.cli render faces --params "$WORK/params.yaml" --out "$WORK/rendered" ) \
    > "$WORK/render.log" 2>&1
record render $?
"$PY" -m pipelines.cli shard --in "$WORK/rendered" --out "$WORK/shards" --params "$WORK/params.yaml" \
    > "$WORK/shard.log" 2>&1
record shard $?
( time "$PY" -m pipelines.cli train --data "$WORK/shards" --config dcign_faces --out "$WORK/model" \
    --params "$WORK/params.yaml" --restart-if-changed ) > "$WORK/train.log" 2>&1
record train $?

"$PY" - "$WORK" "$STEPS" <<'PYEOF'
import re
import sys
from pathlib import Path

work, steps = Path(sys.argv[1]), int(sys.argv[2])


def read(name):
    path = work / name
    return path.read_text(errors="replace") if path.exists() else ""


def seconds(log):
    m = re.search(r"^real\s+(\d+)m([\d.]+)s", log, re.M)
    return 60 * int(m.group(1)) + float(m.group(2)) if m else None


rows = [("torch, device", read("torch.log").strip() or "?")]
tests = re.findall(r"(\d+ (?:passed|failed|skipped|deselected|error)s?)", read("cuda-tests.log"))
rows.append(("CUDA-only tests", ", ".join(tests) or "no result"))
bench = read("bench.log")
peak = re.search(r"measured matmul peak: (.*)", bench)
rows.append(("matmul peak", peak.group(1) if peak else "no result"))
for m in re.finditer(r"^  (dcign[^\n]*?|naive[^\n]*?)\s{2,}([\d.]+)\s+([\d.]+)x\s+([\d.]+)\s+([\d.]+%)\s+([\d.]+%)",
                     bench, re.M):
    rows.append((f"bench: {m.group(1).strip()}", f"{m.group(2)} images/s, {m.group(3)}x naive, "
                 f"{m.group(5)} of fp32 peak, {m.group(6)} of bf16 peak"))
render = read("render.log")
images = re.search(r"dcign: (\d+) \w+ images", render)
took = seconds(render)
gl = read("egl.log").strip().splitlines()
rows.append(("render", f"{images.group(1)} images in {took:.0f} s ({int(images.group(1)) / took:.0f} images/s) on "
             f"EGL {gl[-1] if gl else '?'}" if took and images else "failed"))
train = read("train.log")
took = seconds(train)
where = re.search(r"training dcign_faces \((.*)", train)
rows.append(("train", (where.group(1) if where else "?")))
last = re.search(r"last losses per image: (.*)", train)
rows.append(("train result", f"{steps} steps in {took:.0f} s ({steps / took:.1f} steps/s); {last.group(1)}"
             if took and last else "failed"))
status = [line.split("\t") for line in read("status.tsv").splitlines()]
rows.append(("parts", ", ".join(f"{name} {'ok' if rc == '0' else 'FAILED (' + rc + ')'}" for name, rc in status)))
width = max(len(k) for k, _ in rows)
print("\n== GPU check summary (" + str(work) + ") ==")
for key, value in rows:
    print(f"{key:<{width}}  {value}")
PYEOF
exit $status
