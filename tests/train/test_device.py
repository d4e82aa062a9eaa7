import pytest

from expertune.errors import ConfigError
from expertune.train import device


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: False)


def test_cpu_without_native_bf16_trains_in_fp32(cpu_only, monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    plan = device.plan_device()
    assert (plan.device, plan.precision) == ("cpu", "fp32")
    assert "emulated" in plan.reason


@pytest.mark.parametrize("params", [None, 135_000_000, 7_000_000_000])
def test_auto_checkpointing_is_on_for_every_model_on_a_cpu(cpu_only, params):
    # A laptop's memory runs out before its time does (the device module's docstring has the figures).
    assert device.plan_device(params=params).gradient_checkpointing is True


def test_an_explicit_checkpointing_choice_is_kept_on_a_cpu(cpu_only):
    assert device.plan_device(gradient_checkpointing=False).gradient_checkpointing is False


def test_cpu_with_native_bf16_uses_bf16(cpu_only, monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert device.plan_device().precision == "bf16"


def test_explicit_fp16_on_cpu_is_an_error(cpu_only):
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        device.plan_device("fp16")


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device.torch.cuda, "get_device_name", lambda i=0: "Test GPU")
    monkeypatch.setattr(device.torch.cuda, "is_bf16_supported", lambda: True)


def header_only_safetensors(folder, shape):
    """A model folder whose safetensors header declares one tensor of `shape` (no weights needed:
    parameters are counted from the header)."""
    import json
    import struct

    header = json.dumps({"w": {"dtype": "BF16", "shape": list(shape), "data_offsets": [0, 0]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return str(folder)


@pytest.mark.parametrize("shape, expected", [((70_000, 100_000), True), ((1000, 1000), False)])
def test_auto_checkpointing_on_a_gpu_follows_the_base_models_size(one_gpu, tmp_path, shape, expected):
    from expertune.train.recipe import Recipe

    plan = device.plan_for(Recipe(), header_only_safetensors(tmp_path, shape))
    assert plan.parameters == shape[0] * shape[1]
    assert plan.gradient_checkpointing is expected
    assert plan.precision == "bf16"


def test_dpo_plans_with_the_base_models_size():
    import inspect

    from expertune.train import dpo, run

    # Both trainers go through plan_for, the one place that passes the parameter count.
    for module in (run, dpo):
        source = inspect.getsource(module)
        assert "plan_for(recipe, base.path)" in source and "plan_device(" not in source
