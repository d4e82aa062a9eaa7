"""Exports: the GGUF of a merged adapter loads back through transformers (`gguf_file=`) and gives
the merged model's greedy answers; the Ollama Modelfile carries a template checked against the
Jinja one; `--format peft|merged` keep working; the vLLM command names every adapter."""

from __future__ import annotations

import pytest
from adapter_helpers import BUILTIN
from serve_helpers import workspace_with_adapters

pytestmark = pytest.mark.integration

PROMPTS = ["What is an offer?", "Name a fruit.", "Explain consideration in one sentence."]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return workspace_with_adapters(tmp_path_factory.mktemp("export"))


@pytest.mark.slow  # ~75 s in the suite: converts, writes and reloads a whole GGUF model
def test_gguf_export_loads_back_with_the_same_greedy_answers(ws, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from expertune.serve.export import export_adapter

    out = export_adapter(ws, "tiny@2", tmp_path / "gguf", "gguf")
    merged = export_adapter(ws, "tiny@2", tmp_path / "merged", "merged")["merged_path"]
    gguf = tmp_path / "gguf" / out["gguf"].rsplit("/", 1)[1]
    tok = AutoTokenizer.from_pretrained(merged)
    reference = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    gguf_tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert gguf_tok.chat_template == tok.chat_template  # the adapter's template travels in the GGUF
    for prompt in PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=False)
        assert gguf_tok(text, add_special_tokens=False)["input_ids"] == ids["input_ids"][0].tolist()
        want = reference.generate(**ids, max_new_tokens=16, do_sample=False)
        got = loaded.generate(**ids, max_new_tokens=16, do_sample=False)
        assert got.tolist() == want.tolist(), prompt
    modelfile = (tmp_path / "gguf" / "Modelfile").read_text()
    assert modelfile.startswith(f"FROM ./{gguf.name}") and out["ollama_template"]
    assert 'TEMPLATE """{{- range .Messages }}' in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in modelfile  # SmolLM2's default system prompt


def test_ollama_template_is_refused_when_it_cannot_be_checked():
    from expertune.models import load_tokenizer
    from expertune.models.templates import GEMMA_TEMPLATE
    from expertune.serve.export import ollama_template

    tok = load_tokenizer(BUILTIN)
    template, system, stops = ollama_template(tok)
    assert template is not None and "<|im_end|>" in stops
    tok.chat_template = GEMMA_TEMPLATE  # folds the system prompt into the first user turn: no per-role wrapper
    assert ollama_template(tok)[0] is None


def test_vllm_command_serves_each_adapter_on_the_portable_base(ws):
    from expertune.serve.vllm import shell_line, vllm_command

    cmd = vllm_command(["tiny"], ws, host="0.0.0.0", port=9000, api_key_env="MY_KEY")
    line = shell_line(cmd)
    assert "vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --host 0.0.0.0 --port 9000 --enable-lora" in line
    assert "--max-lora-rank 8" in line and "--lora-modules tiny=" in line and "tiny-v2" in line
    assert line.startswith('env VLLM_API_KEY="${MY_KEY}"')
