"""A run that dies after a checkpoint and is resumed ends with the weights of an uninterrupted run."""

import pytest
import torch
from datasets import Dataset
from transformers import TrainerCallback

from training_fixtures import caption_rows, tiny_model, tiny_processor
from training_slip import SlipPretrainingCollator, SlipTrainer, SlipTrainingArguments, add_token_lengths

STEPS, SAVE_EVERY = 4, 2


class _Crash(RuntimeError):
    pass


class _CrashAfterCheckpoint(TrainerCallback):
    """Dies as the step after the first checkpoint begins, like a killed job."""

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == SAVE_EVERY:
            raise _Crash


def _trainer(output_dir: str, callbacks=()) -> SlipTrainer:
    rows = caption_rows(16)
    processor = tiny_processor(rows)
    args = SlipTrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=4,
        max_steps=STEPS,
        save_steps=SAVE_EVERY,
        logging_steps=1,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    return SlipTrainer(
        # Dropout stays on: resuming must also restore the RNG streams.
        model=tiny_model(),
        args=args,
        train_dataset=add_token_lengths(Dataset.from_list(rows), processor.feature_extractor),
        data_collator=SlipPretrainingCollator(processor),
        callbacks=list(callbacks),
    )


@pytest.mark.slow
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path):
    uninterrupted = _trainer(str(tmp_path / "whole"))
    uninterrupted.train()

    crashed_dir = str(tmp_path / "crashed")
    with pytest.raises(_Crash):
        _trainer(crashed_dir, callbacks=[_CrashAfterCheckpoint()]).train()
    resumed = _trainer(crashed_dir)
    resumed.train(resume_from_checkpoint=True)

    assert resumed.state.global_step == STEPS
    expected = uninterrupted.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)
    initial = tiny_model().state_dict()
    assert not torch.equal(expected["pooler.queries"], initial["pooler.queries"])
