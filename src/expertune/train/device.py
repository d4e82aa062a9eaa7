"""Hardware-aware precision and activation checkpointing.

TRL turns on bf16 and gradient checkpointing by default even on a CPU. On a CPU without native
bf16 (AVX2 only), bf16 autocast is emulated and was ~17x slower in our measurement; on CPUs with
AVX512-BF16 or AMX it is ~1.6x faster than fp32. So precision is chosen from the hardware, never
assumed.

Checkpointing trades compute for memory. On a CPU it costs little and saves much: LoRA on the
135M builtin at max_length 768, batch 4 peaked at 4.3 GB resident without it and 1.9 GB with it
in bf16 (AVX512-BF16), 6.5 GB and 2.9 GB in fp32 (AVX2), while trained tokens/s fell by 7% and
17% (bench/train_throughput.py; on its shorter mixed-length batches the fp32 difference was
within the noise): recomputing the forward adds a third to the matmuls, and the smaller working
set stays in cache. A laptop's memory is what runs out first, so "auto" checkpoints on every CPU;
on a GPU only for models large enough that their activations would not fit.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

from expertune.errors import ConfigError
from expertune.records import DevicePlan  # the plan is part of the run record


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    flags = cpu_flags()
    return bool({"avx512_bf16", "amx_bf16"} & flags) or platform.machine() in ("arm64", "aarch64") and "bf16" in flags


# Above this many parameters, activations of a GPU batch are what runs out of memory first.
CHECKPOINTING_PARAMS = 3e9


def plan_device(precision: str = "auto", gradient_checkpointing: bool | str = "auto", *, method: str = "lora",
                params: int | None = None) -> DevicePlan:
    """Device, precision and checkpointing for a run; `params` is the base model's parameter count
    (models.count_parameters), without which "auto" cannot turn checkpointing on for a GPU."""
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    gpu = torch.cuda.get_device_name(0) if cuda else None
    if method == "qlora" and not cuda:
        raise ConfigError("method: qlora loads the base model in 4 bits with bitsandbytes, which needs a CUDA GPU; "
                          "on this CPU use a lora recipe (e.g. cpu-quick or brie-lora)")
    if precision == "auto":
        if cuda:
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            reason = f"GPU {gpu}: {precision} mixed precision"
        elif cpu_has_native_bf16():
            precision, reason = "bf16", "CPU with native bf16 (AVX512-BF16/AMX): bf16 autocast"
        else:
            precision, reason = "fp32", "CPU without native bf16: fp32 (emulated bf16 is many times slower)"
    else:
        reason = f"precision {precision} set by the recipe"
        if device == "cpu" and precision == "fp16":
            raise ConfigError("precision: fp16 needs a GPU; on a CPU use fp32 or auto")
        if device == "cpu" and precision == "bf16" and not cpu_has_native_bf16():
            reason += " (warning: this CPU emulates bf16, expect a much slower run)"
    if gradient_checkpointing == "auto":
        gradient_checkpointing = not cuda or bool(params and params > CHECKPOINTING_PARAMS)
    return DevicePlan(device=device, precision=precision, gradient_checkpointing=bool(gradient_checkpointing), reason=reason,
                      cpu_count=os.cpu_count() or 1, gpu_name=gpu, parameters=params)


def plan_for(recipe, base_path: str) -> DevicePlan:
    """The plan for a recipe (SFT or DPO) on the base model at `base_path`, with its parameter count,
    so that "auto" checkpointing sees the model's size."""
    from expertune.models import count_parameters

    return plan_device(recipe.precision, recipe.gradient_checkpointing, method=recipe.method,
                       params=count_parameters(base_path))
