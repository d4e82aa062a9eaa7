"""Exports for other servers: `peft` (vLLM / TGI load the adapter on the base), `merged` (a plain
transformers model folder), `gguf` (llama.cpp and Ollama: the merged model as one GGUF file plus an
Ollama Modelfile carrying the chat template).

The GGUF is written with the `gguf` package (llama.cpp's own Python writer): tensor names from its
name map, the tokenizer from its BpeVocab / SpecialVocab readers (vocabulary, merges, special
tokens, the adapter's Jinja chat template), q/k projections permuted into llama.cpp's rotary layout
exactly as llama.cpp's converter does. Llama-architecture models (SmolLM2, Llama, ...) only; F32 by
default (lossless; `llama-quantize` makes smaller files), F16 on request.

Ollama templates are Go templates, not Jinja: the Modelfile's TEMPLATE is derived by rendering the
Jinja template around marker contents and is only written after re-rendering sample conversations
both ways gives the same text; otherwise the Modelfile says so and Ollama falls back to the chat
template stored in the GGUF.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from expertune.errors import ConfigError, InputError

FORMATS = ("peft", "merged", "gguf")


def export_adapter(ws, ref: str, out: Path, fmt: str = "peft", *, outtype: str = "f32") -> dict[str, Any]:
    from expertune.train.registry import export, merge

    out = Path(out)
    if fmt == "peft":
        return {**export(ws, ref, out), "format": "peft"}
    if fmt == "merged":
        return {**merge(ws, ref, out), "format": "merged"}
    if fmt != "gguf":
        raise InputError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="expertune-merge-") as tmp:
        info = merge(ws, ref, Path(tmp) / "merged")
        out.mkdir(parents=True, exist_ok=True)
        gguf_path = out / f"{info['name']}-v{info['version']}.{outtype}.gguf"
        write_gguf(Path(tmp) / "merged", gguf_path, name=info["ref"], outtype=outtype, source_model=info["base_model"])
        modelfile = write_modelfile(Path(tmp) / "merged", out / "Modelfile", gguf_path.name)
    return {**info, "format": "gguf", "exported_path": str(out), "gguf": str(gguf_path), "modelfile": str(out / "Modelfile"),
            "ollama_template": modelfile["template"]}


# -- GGUF -------------------------------------------------------------------------------------------
def _permute(weights, n_head: int, n_head_kv: int | None):
    """HF's rotary layout -> llama.cpp's (llama.cpp convert_hf_to_gguf.py, LlamaModel.permute)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _source_pre_tokenizer(source_model: str | None) -> str | None:
    """The pre-tokenizer name llama.cpp recorded in the GGUF the base came from, if it came from one."""
    import gguf

    from expertune.models.builtin import builtin_gguf

    path = None
    if source_model and source_model.startswith("builtin:"):
        path = builtin_gguf(source_model.split(":", 1)[1])
    elif source_model and source_model.endswith(".gguf"):
        path = Path(source_model)
    if path is None:
        return None
    field = gguf.GGUFReader(path).get_field("tokenizer.ggml.pre")
    return field.contents() if field is not None else None


def write_gguf(model_dir: Path, path: Path, *, name: str, outtype: str = "f32", source_model: str | None = None) -> Path:
    import gguf
    import numpy as np
    from safetensors import safe_open

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "llama":
        raise ConfigError(f"GGUF export supports Llama-architecture models; this one is {config.get('model_type')!r}. "
                          "Export --format merged and convert it with llama.cpp's convert_hf_to_gguf.py")
    if outtype not in ("f32", "f16"):
        raise InputError(f"--gguf-type {outtype}: expected f32 or f16 (quantise further with llama-quantize)")
    n_head, n_kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    blocks = config["num_hidden_layers"]
    head_dim = config.get("head_dim") or config["hidden_size"] // n_head
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(config.get("rope_theta", (config.get("rope_parameters") or {}).get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if outtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)

    vocab = gguf.BpeVocab(model_dir)
    tokens, scores, types = zip(*vocab.all_tokens())
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_source_pre_tokenizer(source_model) or "default")
    writer.add_token_list(list(tokens))
    writer.add_token_types(list(types))
    gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    tied = config.get("tie_word_embeddings", False)
    for shard in sorted(model_dir.glob("*.safetensors")):
        with safe_open(shard, framework="np") as f:
            for key in f.keys():
                if tied and key == "lm_head.weight":
                    continue  # llama.cpp uses the token embeddings as the output layer
                data = f.get_tensor(key).astype(np.float32)
                if key.endswith("q_proj.weight"):
                    data = _permute(data, n_head, n_head)
                elif key.endswith("k_proj.weight"):
                    data = _permute(data, n_head, n_kv)
                target = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if target is None:
                    raise ConfigError(f"{shard.name}: tensor {key} has no GGUF name; export --format merged instead")
                if outtype == "f16" and data.ndim == 2:
                    data = data.astype(np.float16)
                writer.add_tensor(target, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# -- Ollama -----------------------------------------------------------------------------------------
_MARK = {"system": "\x01SYSTEM\x01", "user": "\x01USER\x01", "assistant": "\x01ASSISTANT\x01"}


def ollama_template(tokenizer) -> tuple[str | None, str | None, list[str]]:
    """(Go template, default system prompt or None, stop strings) derived from the Jinja chat
    template, or (None, None, stops) when sample renderings would differ."""
    def render(messages, gen):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)

    def msg(role, n=""):
        return {"role": role, "content": _MARK[role] + n}

    stops = [tokenizer.eos_token] if tokenizer.eos_token else []
    bos = tokenizer.bos_token or ""
    try:
        a = render([msg("system")], False)
        b = render([msg("system"), msg("user")], False)
        c = render([msg("system"), msg("user"), msg("assistant")], False)
        d = render([msg("system"), msg("user")], True)
        lone = render([msg("user")], True)
    except Exception:  # a template that refuses these shapes (e.g. no system role)
        return None, None, stops
    if not (b.startswith(a) and c.startswith(b) and d.startswith(b)):
        return None, None, stops
    parts = {"system": a[len(bos):] if bos and a.startswith(bos) else a, "user": b[len(a):], "assistant": c[len(b):]}
    wrap = {}
    for role, block in parts.items():
        if block.count(_MARK[role]) != 1:
            return None, None, stops
        wrap[role] = block.split(_MARK[role])
    generation = d[len(b):]
    default_system = None
    plain = lone[len(bos):] if bos and lone.startswith(bos) else lone
    prefix, suffix = wrap["system"]
    if plain.startswith(prefix) and not plain.startswith(wrap["user"][0]):  # the template adds its own system prompt
        end = plain.find(suffix, len(prefix))
        default_system = plain[len(prefix):end] if end > 0 else None
    go = "{{- range .Messages }}" + "".join(
        f'{{{{ {"if" if k == 0 else "else if"} eq .Role "{role}" }}}}{_go_text(wrap[role][0])}{{{{ .Content }}}}{_go_text(wrap[role][1])}'
        for k, role in enumerate(("system", "user", "assistant"))) + "{{ end }}{{ end }}" + _go_text(generation)
    end_of_turn = wrap["assistant"][1].strip()
    if end_of_turn and end_of_turn not in stops:
        stops.append(end_of_turn)
    # Check: the Go template, evaluated the way Ollama does, renders samples as the Jinja one does.
    samples = [[msg("system", "1"), msg("user", "2")], [msg("system", "1"), msg("user", "2"), msg("assistant", "3"), msg("user", "4")],
               [msg("user", "5")], [msg("user", "6"), msg("assistant", "7"), msg("user", "8")]]
    for sample in samples:
        jinja = render(sample, True)
        jinja = jinja[len(bos):] if bos and jinja.startswith(bos) else jinja
        if sample[0]["role"] != "system" and default_system is not None:
            sample = [{"role": "system", "content": default_system}] + sample  # Ollama adds SYSTEM when none is sent
        ours = "".join(wrap[m["role"]][0] + m["content"] + wrap[m["role"]][1] for m in sample) + generation
        if ours != jinja:
            return None, None, stops
    return go, default_system, stops


def _go_text(text: str) -> str:
    return text.replace("{{", '{{ "{{" }}')


def write_modelfile(model_dir: Path, path: Path, gguf_name: str) -> dict[str, Any]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template, system, stops = ollama_template(tokenizer)
    lines = [f"FROM ./{gguf_name}", ""]
    if template is not None:
        lines += [f'TEMPLATE """{template}"""', ""]
        if system is not None:
            lines += [f'SYSTEM """{system}"""', ""]
    else:
        lines += ["# The chat template could not be expressed as an Ollama (Go) template and checked; Ollama uses",
                  "# the Jinja template stored in the GGUF (tokenizer.chat_template) where it recognises it.", ""]
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"template": template is not None, "system": system, "stops": stops}

