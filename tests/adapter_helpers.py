"""A tiny random-init LoRA adapter folder in the trainer's format (until real ones exist)."""

from __future__ import annotations

from pathlib import Path

BUILTIN = "builtin:smollm2-135m-instruct"


def make_adapter(folder: Path, *, name: str = "tiny", version: int = 1, seed: int = 0, chat_template: str | None = None) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from expertune.llm.adapters import write_marker
    from expertune.records import AdapterMarker
    from expertune.models import load_model, load_tokenizer
    from expertune.models.resolve import resolve

    torch.manual_seed(seed)
    base = load_model(BUILTIN)
    tok = load_tokenizer(BUILTIN)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(folder)
    if chat_template is not None:
        tok.chat_template = chat_template
    tok.save_pretrained(folder)
    write_marker(folder, AdapterMarker(
        name=name, version=version, kind="lora", base_model=BUILTIN, base_sha256=resolve(BUILTIN).sha256,
        run_id="test-run", dataset_hash="0" * 64, chat_template_source="model"))
    return folder
