"""Two CPU processes (gloo) under accelerate train like one process with the same global batch."""

import pytest

from conftest import QUICK
from expertune.train.run import train

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _losses(record):
    return [h["loss"] for h in record.log_history if "loss" in h]


def test_two_process_accelerate_run_matches_one_process(tiny_ws):
    # 12 training examples, global batch 2: four steps stay inside the first epoch.
    common = [*QUICK, "max_steps=4", "packing=false", "group_by_length=false", "precision=fp32", "early_stopping_patience=null"]
    one = train(tiny_ws, "cpu-quick", [*common, "per_device_batch_size=2"], show_progress=False)
    two = train(tiny_ws, "cpu-quick", [*common, "per_device_batch_size=1"], launcher="accelerate", num_processes=2,
                show_progress=False)
    assert two.status == "completed" and two.num_processes == 2
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 4
    assert max(abs(x - y) for x, y in zip(a, b)) < 2e-3, (a, b)
