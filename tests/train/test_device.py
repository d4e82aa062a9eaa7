import pytest

from expertune.errors import ConfigError
from expertune.train import device


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: False)


def test_cpu_without_native_bf16_trains_in_fp32_without_checkpointing(cpu_only, monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    plan = device.plan_device()
    assert (plan.device, plan.precision, plan.gradient_checkpointing) == ("cpu", "fp32", False)
    assert "emulated" in plan.reason


def test_cpu_with_native_bf16_uses_bf16(cpu_only, monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert device.plan_device().precision == "bf16"


def test_explicit_fp16_on_cpu_is_an_error(cpu_only):
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        device.plan_device("fp16")
