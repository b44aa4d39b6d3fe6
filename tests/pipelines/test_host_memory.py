"""The allocator settings every dcign command starts with: a training step stops page-faulting its
activations back from the OS (measured in fresh processes, with and without them)."""
import subprocess
import sys

from pipelines.host_memory import keep_freed_memory
from tests.conftest import REPO

STEPS = """
import resource, sys, torch
from pipelines.host_memory import keep_freed_memory
from train.model import DCIGN, ModelConfig, loss_terms
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.manual_seed(0)
model = DCIGN(ModelConfig(feature_maps=8)).to(memory_format=torch.channels_last)
x = torch.rand(20, 1, 150, 150).contiguous(memory_format=torch.channels_last)
def step():
    logits, mu, logvar, _ = model(x)
    sum(loss_terms(logits, x, mu, logvar)).backward()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], cwd=REPO, capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_training_steps_keep_their_memory():
    # glibc adapts its thresholds as it goes, so without the settings a process sometimes gets
    # lucky; the worst of three shows the cost the settings remove
    default, kept = max(page_faults("default") for _ in range(3)), page_faults("keep")
    assert default > 5000, default
    assert kept * 4 < default, (kept, default)


def test_the_settings_apply_here():
    assert keep_freed_memory()
