"""What the trainer holds in memory: frozen base weights in the precision it computes in, LoRA
weights in fp32, and LM-head tiles of bounded size on a CPU."""

import pytest
import torch

from expertune.models import resolve
from expertune.train.device import plan_device
from expertune.train.recipe import Recipe
from expertune.train.sft import CPU_LOGPROB_TILE_ROWS, build_trainer, fit_logprob_tiles

pytestmark = pytest.mark.integration

EXAMPLES = [{"prompt": [{"role": "user", "content": f"Question {i}?"}],
             "completion": [{"role": "assistant", "content": f"Answer {i}."}], "group_id": f"g{i}", "response_id": i}
            for i in range(4)]


def _weights(trainer) -> tuple[set[torch.dtype], set[torch.dtype]]:
    frozen, trained = set(), set()
    for p in trainer.model.parameters():
        (trained if p.requires_grad else frozen).add(p.dtype)
    return frozen, trained


@pytest.mark.parametrize("precision, base_dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_frozen_weights_are_kept_in_the_training_precision_and_lora_in_fp32(tmp_path, precision, base_dtype):
    # Building only: no step runs, so a CPU that emulates bf16 is fine here.
    plan = plan_device(precision)
    recipe = Recipe(max_steps=1, per_device_batch_size=2, max_length=64, precision=precision)
    trainer = build_trainer(recipe, plan, resolve("builtin:smollm2-135m-instruct").path,
                            {"train": EXAMPLES, "val": []}, tmp_path)
    frozen, trained = _weights(trainer)
    assert frozen == {base_dtype}
    assert trained == {torch.float32}


def test_cpu_lm_head_tiles_are_bounded_in_the_installed_trl():
    # Fails when a TRL upgrade renames the constant: then the CPU memory bound is lost silently.
    from trl.kernels import chunked_logprob

    fit_logprob_tiles(plan_device("fp32"))
    assert chunked_logprob.TOKEN_CHUNK_SIZE <= CPU_LOGPROB_TILE_ROWS
