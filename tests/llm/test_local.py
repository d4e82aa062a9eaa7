"""LocalChatModel on the builtin SmolLM2: batched seeded generation, finish reasons, next-token
log-probabilities, and adapters loaded with their own tokenizer and chat template."""

import pytest
from adapter_helpers import BUILTIN, make_adapter

from expertune.errors import ConfigError, InputError
from expertune.llm.adapters import ADAPTER_MARKER, read_adapter
from expertune.llm.base import ChatModel, GenParams

pytestmark = pytest.mark.integration

CONVS = [
    [{"role": "user", "content": "Name a fruit."}],
    [{"role": "system", "content": "Answer in one short sentence."},
     {"role": "user", "content": "What is a contract? Explain the idea of an offer and an acceptance briefly."}],
    [{"role": "user", "content": "Say hi."}],
]


@pytest.fixture(scope="module")
def base():
    from expertune.llm.local import LocalChatModel

    # fp32 pinned: these tests compare exact tokens (batched vs alone, ours vs generate), which bf16's
    # rounding would let drift apart where padding changes the arithmetic.
    return LocalChatModel(BUILTIN, precision="fp32")


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
                "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    return make_adapter(tmp_path_factory.mktemp("adapter") / "tiny", chat_template=template)


def test_is_a_chat_model_with_a_weights_identity(base):
    assert isinstance(base, ChatModel)
    assert base.id.startswith("local:") and len(base.id) == len("local:") + 64


def test_batched_sampling_equals_one_at_a_time(base):
    # Each row draws from its own seeded generator: its text does not depend on its batch.
    params = GenParams(temperature=0.9, max_new_tokens=8, seed=7)
    batched = base.generate(CONVS, params, seeds=[1, 2, 3])
    single = [base.generate([c], params, seeds=[s])[0] for c, s in zip(CONVS, [1, 2, 3])]
    assert [g.text for g in batched] == [g.text for g in single]



def test_finish_reasons_and_forced_lengths(base):
    gens = base.generate(CONVS, GenParams(temperature=0, max_new_tokens=6))
    for g in gens:
        assert g.prompt_tokens > 0
        if g.finish_reason == "length":
            assert g.completion_tokens == 6
        else:
            assert g.finish_reason == "stop" and g.completion_tokens <= 6
    assert any(g.finish_reason == "length" for g in gens)
    forced = base.generate([CONVS[2]], GenParams(temperature=0, max_new_tokens=8), min_new_tokens=8)
    assert forced[0].finish_reason == "length" and forced[0].completion_tokens == 8


def test_next_token_logprobs_batched_equals_single(base):
    batched = base.next_token_logprobs(CONVS, ["A", "B"])
    for conv, lp in zip(CONVS, batched):
        (single,) = base.next_token_logprobs([conv], ["A", "B"])
        assert set(lp) == {"A", "B"} and all(v < 0 for v in lp.values())
        assert lp["A"] == pytest.approx(single["A"], abs=2e-3) and lp["B"] == pytest.approx(single["B"], abs=2e-3)
    digits = base.next_token_logprobs(CONVS[:1], [str(d) for d in range(1, 6)])[0]
    assert len(digits) == 5
    with pytest.raises(ConfigError, match="share a first token"):
        base.next_token_logprobs(CONVS[:1], ["A", "A"])


def test_adapter_uses_its_own_tokenizer_template_and_weights(base, adapter_dir):
    from expertune.llm.local import LocalChatModel

    info = read_adapter(adapter_dir)
    assert (info.kind, info.name, info.version, info.base_model) == ("lora", "tiny", 1, BUILTIN)
    tuned = LocalChatModel(BUILTIN, str(adapter_dir), precision="fp32")
    assert tuned.id == f"{base.id}+lora:{info.sha256}"
    # the adapter's template has no default system prompt; the base's has one
    assert "You are a helpful AI assistant" in base.tokenizer.decode(base.render(CONVS[0]).input_ids)
    assert "You are a helpful AI assistant" not in tuned.tokenizer.decode(tuned.render(CONVS[0]).input_ids)
    a = tuned.next_token_logprobs(CONVS[:1], ["A", "B"])[0]
    b = base.next_token_logprobs(CONVS[:1], ["A", "B"])[0]
    assert a != b  # the random LoRA changes the model


def test_adapter_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_adapter(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither a LoRA adapter"):
        read_adapter(tmp_path / "empty")
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="adapter_model.safetensors"):
        read_adapter(tmp_path / "lora")


def test_merged_decoding_matches_transformers_generate(base):
    """The harness's own loop (bucketed prefill, merged caches, finished rows dropped) gives the
    tokens transformers' generate gives for the same batch."""
    prompts = base._prompts(CONVS)
    params = GenParams(temperature=0, max_new_tokens=20)
    ours = base._generate_batch(prompts, params, [0, 0, 0], 0)
    theirs = base._generate_hf(prompts, params, [0, 0, 0], 0)
    # one row stops early and leaves the batch; the others go on to the limit
    assert sorted(g.finish_reason for g in ours) == ["length", "length", "stop"]
    for gen, tokens in zip(ours, theirs):
        eos = next((k for k, t in enumerate(tokens) if t in base.eos_ids()), None)
        assert gen.text == base.tokenizer.decode(tokens[:eos], skip_special_tokens=True)
    assert base._mergeable


def test_a_prompt_too_long_for_the_context_fails_alone(base):
    limit = base.context_length()
    long = [{"role": "user", "content": "word " * limit}]
    gens = base.generate([CONVS[2], long], GenParams(temperature=0, max_new_tokens=4))
    assert gens[0].finish_reason in ("stop", "length") and gens[0].text
    assert gens[1].finish_reason == "error" and "too long" in gens[1].error and gens[1].prompt_tokens > limit


def test_a_programming_error_raises_instead_of_becoming_a_failed_answer(base):
    # A seed that is not a number is the caller's bug, not a per-item failure to report.
    with pytest.raises(ValueError):
        base.generate(CONVS[:1], GenParams(temperature=0.7, max_new_tokens=2), seeds=["not-a-seed"])


def test_out_of_memory_is_recognised():
    import torch

    from expertune.llm.local import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def _policy_adapter(folder, policy: dict):
    """An adapter folder as training writes it, with a recorded system-prompt policy (weights are
    only hashed here, never loaded)."""
    import json

    from safetensors.torch import save_file
    import torch

    from expertune.models import load_tokenizer
    from expertune.models.resolve import resolve

    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": BUILTIN, "peft_type": "LORA"}))
    save_file({"w": torch.zeros(2)}, str(folder / "adapter_model.safetensors"))
    load_tokenizer(BUILTIN).save_pretrained(folder)
    (folder / ADAPTER_MARKER).write_text(json.dumps({
        "name": "policy", "version": 1, "kind": "lora", "base_model": BUILTIN, "base_sha256": resolve(BUILTIN).sha256,
        "system_prompt_policy": policy}))
    return folder


@pytest.mark.parametrize("policy", [{"mode": "drop", "text": None}, {"mode": "override", "text": "Be a tutor."}])
def test_pairwise_candidates_render_with_their_adapters_policy(ws, tmp_path, policy):
    """The evaluation run freezes a candidate; the model it rebuilds for generation applies the
    adapter's policy to the raw stored conversation."""
    from expertune.evaluate.frozen import chat_model, resolve_local
    from expertune.llm.render import SystemPolicy, render

    folder = _policy_adapter(tmp_path / "adapter", policy)
    frozen = resolve_local(ws, None, None, str(folder), "candidates[1]")
    tuned = chat_model(frozen)
    assert tuned.policy == SystemPolicy.from_dict(policy) and tuned.id == frozen.model_id
    raw = CONVS[1]  # has its own system prompt, as stored
    assert tuned.render(raw) == render(SystemPolicy.from_dict(policy).apply(raw), tuned.tokenizer)
    assert "Answer in one short sentence." not in tuned.tokenizer.decode(tuned.render(raw).input_ids)
    assert chat_model(resolve_local(ws, None, None, None, "candidates[0]")).policy == SystemPolicy()


def test_an_adapter_marker_without_a_policy_falls_back_to_its_run_record(tmp_path):
    import json

    folder = _policy_adapter(tmp_path / "run" / "adapter", None)
    assert read_adapter(folder).system_prompt_policy is None
    from run_helpers import OLD_RUN  # a run.json as the code before typed records wrote it (policy: drop)

    (tmp_path / "run" / "run.json").write_text((OLD_RUN / "run.json").read_text())
    assert read_adapter(folder).system_prompt_policy.model_dump() == {"mode": "drop", "text": None}
    broken = json.loads((OLD_RUN / "run.json").read_text()) | {"status": "finished"}
    (tmp_path / "run" / "run.json").write_text(json.dumps(broken))
    with pytest.raises(InputError, match=r"run\.json.*status"):  # a damaged record is named, not silently ignored
        read_adapter(folder)


def test_precision_is_resolved_and_part_of_the_identity_only_when_not_fp32(monkeypatch):
    import expertune.llm.scoring as scoring
    from expertune.llm.local import model_id_for, resolve_precision

    monkeypatch.setattr(scoring, "native_bf16", lambda device: True)
    assert resolve_precision("auto") == "bf16" and resolve_precision("fp32") == "fp32"
    monkeypatch.setattr(scoring, "native_bf16", lambda device: False)
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"
    with pytest.raises(ConfigError, match="expected one of auto, fp32, bf16"):
        resolve_precision("fp16")
    assert model_id_for("s" * 64, None) == model_id_for("s" * 64, None, "fp32") == "local:" + "s" * 64
    assert model_id_for("s" * 64, None, "bf16") == "local:" + "s" * 64 + "+bf16"


def test_bf16_merges_the_adapter_in_fp32_then_casts(base, adapter_dir):
    """The LoRA merge happens on the fp32 weights and the result is rounded once: the bf16 model's
    weights are exactly the fp32 merged model's, cast."""
    import torch

    from expertune.llm.local import LocalChatModel

    from peft import PeftModel

    from expertune.models import load_model

    fp32 = LocalChatModel(BUILTIN, str(adapter_dir), precision="fp32")
    bf16 = LocalChatModel(BUILTIN, str(adapter_dir), precision="bf16")
    assert bf16.id == fp32.id + "+bf16"
    # the fp32 harness packs its linear weights (llm/packed.py): the reference is merged here
    merged = PeftModel.from_pretrained(load_model(fp32.resolved), str(adapter_dir)).merge_and_unload()
    expected, got = merged.state_dict(), bf16.model.state_dict()
    assert set(got) == set(expected)
    for name, weight in expected.items():
        assert got[name].dtype == torch.bfloat16 and torch.equal(got[name], weight.to(torch.bfloat16)), name


def test_scoring_runs_in_the_models_precision(base):
    """An fp32 model scores in fp32 (no bf16 autocast even where the CPU has native bf16), as it
    generates; a bf16 one in bf16, close to fp32."""
    from expertune.llm.local import LocalChatModel
    from expertune.llm.scoring import completion_logprobs

    examples = [(CONVS[0], "An apple."), (CONVS[2], "Hi!")]
    ours = base.completion_logprobs(examples)
    assert ours == completion_logprobs(base.model, base.tokenizer, examples, precision="fp32")
    bf16 = LocalChatModel(BUILTIN, precision="bf16").completion_logprobs(examples)
    for a, b in zip(ours, bf16):
        assert a["n_tokens"] == b["n_tokens"] and a["sum_logprob"] != b["sum_logprob"]
        assert b["mean_logprob"] == pytest.approx(a["mean_logprob"], abs=0.1)
