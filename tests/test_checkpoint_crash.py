"""A pretraining run SIGKILLed while it writes a checkpoint resumes to the weights of an uninterrupted run.

Each case starts `run_pretraining` in a child process (this file run as a script), pauses it at one moment of
its second checkpoint save by wrapping a method of the save path, kills it there with SIGKILL, checks what is
on disk, and resumes it in this process with `--resume_from_checkpoint True`.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from training_fixtures import caption_rows, export_corpus, tiny_pretraining_arguments
from training_slip import trainer as trainer_module
from training_slip.checkpoints import STAGING_DIR, checkpoint_problem
from training_slip.pretraining import run_pretraining
from training_slip.trainer import SlipTrainer

STEPS, SAVE_EVERY = 6, 2
KILLED_SAVE = 2
"""The save at step 4 is the one killed: checkpoint-2 is complete by then, its rotation would delete
checkpoint-2 (save_total_limit=1), and steps follow it."""
PAUSE_POINTS = {
    # name: (owner of the wrapped callable, its name, pause before or after the call)
    "weights written": (SlipTrainer, "save_model", "after"),
    "optimizer written": (SlipTrainer, "_save_optimizer_and_scheduler", "after"),
    "all written, not renamed": (trainer_module, "publish_checkpoint", "before"),
    "renamed, older not rotated": (trainer_module, "rotate_checkpoints", "before"),
}
CHILD_TIMEOUT_S = 300  # a child reaches its pause in seconds; the margin covers a heavily shared machine
PAUSED_FLAG = "paused"


def _arguments(corpus: str, output_dir: str, **training):
    return tiny_pretraining_arguments(
        corpus, output_dir, max_steps=STEPS, save_steps=SAVE_EVERY, save_total_limit=1, **training
    )


def _pause_at(point: str, flag: Path) -> None:
    """Make the `KILLED_SAVE`-th call of the point's callable write ``flag`` and wait to be killed."""
    owner, name, when = PAUSE_POINTS[point]
    original = getattr(owner, name)
    calls = 0

    def paused(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == KILLED_SAVE and when == "before":
            _wait_for_kill(flag)
        result = original(*args, **kwargs)
        if calls == KILLED_SAVE and when == "after":
            _wait_for_kill(flag)
        return result

    setattr(owner, name, paused)


def _wait_for_kill(flag: Path) -> None:
    flag.write_text("")
    time.sleep(CHILD_TIMEOUT_S)
    raise SystemExit("the test did not kill this run")


def _run_and_kill(corpus: str, output_dir: Path, point: str) -> None:
    """Run pretraining in a child process until it pauses at ``point``, then SIGKILL it."""
    flag, log = output_dir.parent / PAUSED_FLAG, output_dir.parent / "child.log"
    offline = {name: "1" for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env = {**os.environ, **offline, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "w") as out:
        child = subprocess.Popen(
            [sys.executable, __file__, corpus, str(output_dir), point], stdout=out, stderr=out, env=env
        )
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while not flag.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the child never paused at {point!r}; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _weights(trainer) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in trainer.model.state_dict().items()}


@pytest.fixture(scope="module")
def one_thread():
    """The child runs on one thread; so does every run here, so all compute bit-identically."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return export_corpus(caption_rows(24), tmp_path_factory.mktemp("corpus") / "corpus")


@pytest.fixture(scope="module")
def uninterrupted(corpus, one_thread, tmp_path_factory):
    trainer, _ = run_pretraining(*_arguments(corpus, str(tmp_path_factory.mktemp("whole") / "run")))
    assert trainer.state.global_step == STEPS
    return _weights(trainer)


@pytest.mark.parametrize(
    "point",
    [
        "weights written",
        pytest.param("optimizer written", marks=pytest.mark.slow),  # the same outcome as "weights written"
        "all written, not renamed",
        "renamed, older not rotated",
    ],
)
def test_a_run_killed_while_saving_resumes_to_the_uninterrupted_weights(
    point, corpus, uninterrupted, one_thread, tmp_path
):
    output_dir = tmp_path / "run"
    _run_and_kill(corpus, output_dir, point)

    checkpoints = sorted(path.name for path in output_dir.glob("checkpoint-*"))
    published = point == "renamed, older not rotated"
    assert checkpoints == (["checkpoint-2", "checkpoint-4"] if published else ["checkpoint-2"])
    assert all(checkpoint_problem(output_dir / name) is None for name in checkpoints)
    assert (output_dir / STAGING_DIR).exists() != published
    state = json.loads((output_dir / checkpoints[-1] / "trainer_state.json").read_text())
    assert state["global_step"] == (4 if published else 2)

    trainer, _ = run_pretraining(*_arguments(corpus, str(output_dir), resume_from_checkpoint="True"))

    assert trainer.state.global_step == STEPS
    for name, value in _weights(trainer).items():
        torch.testing.assert_close(value, uninterrupted[name], rtol=0, atol=0, msg=name)
    assert sorted(path.name for path in output_dir.glob("checkpoint-*")) == [f"checkpoint-{STEPS}"]
    assert not (output_dir / STAGING_DIR).exists()


if __name__ == "__main__":
    corpus_dir, run_dir, pause_point = sys.argv[1:]
    _pause_at(pause_point, Path(run_dir).parent / PAUSED_FLAG)
    run_pretraining(*_arguments(corpus_dir, run_dir))
