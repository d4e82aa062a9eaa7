"""The one renderer: pinned against TRL's own tokenisation of the same conversations, EOS in the
completion mask for both builtin templates, and the system-prompt policy."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expertune.errors import ConfigError
from expertune.llm.render import AS_DATA, SystemPolicy, render, render_text
from expertune.models.templates import GEMMA_TEMPLATE, GENERIC_TEMPLATE

BUILTIN = "builtin:smollm2-135m-instruct"

EXAMPLES = [
    {"prompt": [{"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "What is an offer?"}],
     "completion": [{"role": "assistant", "content": "A definite promise to be bound on stated terms."}]},
    {"prompt": [{"role": "user", "content": "What is consideration?"},
                {"role": "assistant", "content": "Something of value."},
                {"role": "user", "content": "Give an example."}],
     "completion": [{"role": "assistant", "content": "A promise to pay £5 for a book — or a peppercorn. 🌶"}]},
    {"prompt": [{"role": "user", "content": "Name a remedy."}],
     "completion": [{"role": "assistant", "content": "\n  Damages,\n\nusually.  "}]},
]
PROMPT = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]


@pytest.fixture(scope="module")
def tok():
    from expertune.models import load_tokenizer

    return load_tokenizer(BUILTIN)


def _with_template(tok, template):
    import copy

    other = copy.deepcopy(tok)
    other.chat_template = template
    return other


# -- the system-prompt policy -----------------------------------------------------------------------
def test_system_prompt_policies():
    assert AS_DATA.apply(PROMPT) == PROMPT
    assert SystemPolicy("drop").apply(PROMPT) == PROMPT[1:]
    assert SystemPolicy("override", "T").apply(PROMPT) == [{"role": "system", "content": "T"}, PROMPT[1]]
    assert SystemPolicy("override", "T").apply(PROMPT[1:])[0] == {"role": "system", "content": "T"}
    assert SystemPolicy.from_recipe({"system_prompt": "drop", "system_prompt_text": None}) == SystemPolicy("drop")
    assert SystemPolicy.from_dict(None) == AS_DATA and SystemPolicy.from_dict(SystemPolicy("drop").as_dict()) == SystemPolicy("drop")
    assert AS_DATA.tag == "" and SystemPolicy("drop").tag != SystemPolicy("override", "T").tag
    with pytest.raises(ConfigError, match="needs its text"):
        SystemPolicy("override")


def test_the_policy_is_applied_inside_the_renderer(tok):
    dropped = render(PROMPT, tok, SystemPolicy("drop"))
    assert dropped == render(PROMPT[1:], tok)
    assert "\nS<|im_end|>" in tok.decode(render(PROMPT, tok).input_ids)
    assert "\nS<|im_end|>" not in tok.decode(dropped.input_ids)


# -- masks and EOS ----------------------------------------------------------------------------------
def test_a_bare_prompt_ends_with_the_generation_prompt_and_trains_nothing(tok):
    ids, mask = render(PROMPT, tok)
    assert tok.decode(ids).endswith("<|im_start|>assistant\n") and set(mask) == {0}
    assert render(PROMPT, tok, prefix="Answer:").input_ids[:len(ids)] == ids


@pytest.mark.parametrize("template", [None, GENERIC_TEMPLATE], ids=["smollm2", "expertune-generic"])
def test_the_completion_is_the_answer_and_its_eos(tok, template):
    tok = _with_template(tok, template) if template else tok
    # (An answer starting with a newline merges with the generation prompt's; TRL's rule then
    # starts the completion one token early. The TRL pin below covers that case.)
    for ex in EXAMPLES[:2]:
        ids, mask = render(ex["prompt"] + ex["completion"], tok)
        start = mask.index(1)
        assert mask == [0] * start + [1] * (len(ids) - start)
        assert tok.eos_token_id in ids[start:]
        assert tok.decode(ids[start:]).startswith(ex["completion"][0]["content"])
        # the prompt as generation sees it is exactly what training conditions on
        assert render(ex["prompt"], tok).input_ids == ids[:start]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.text(min_size=1, max_size=40), question=st.text(min_size=1, max_size=40))
def test_any_answer_trains_its_eos(tok, answer, question):
    ids, mask = render([{"role": "user", "content": question}, {"role": "assistant", "content": answer}], tok)
    trained = [t for t, m in zip(ids, mask) if m]
    assert trained and tok.eos_token_id in trained
    assert mask == sorted(mask)  # one prompt, then one completion


@pytest.mark.slow
@pytest.mark.integration
def test_the_gemma_fallback_template_trains_its_end_of_turn():
    from expertune.models import load_tokenizer, resolve

    resolved = resolve("builtin:gemma3-270m")
    tok = load_tokenizer(resolved)
    assert resolved.chat_template_source == "expertune-gemma-turns" and tok.chat_template == GEMMA_TEMPLATE
    assert tok.eos_token == "<end_of_turn>"
    for ex in EXAMPLES[:2]:  # (the third starts with a newline, see above)
        ids, mask = render(ex["prompt"] + ex["completion"], tok)
        start = mask.index(1)
        assert tok.eos_token_id in ids[start:] and ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
        assert tok.decode(ids[:start]).endswith("<start_of_turn>model\n")
        assert render(ex["prompt"], tok).input_ids == ids[:start]


def test_a_template_that_cannot_render_is_a_config_error(tok):
    broken = _with_template(tok, "{{ raise_exception('no system role') }}")
    with pytest.raises(ConfigError, match="cannot render"):
        render_text(PROMPT, broken)


# -- pinned against TRL -----------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("template", [None, GENERIC_TEMPLATE, GEMMA_TEMPLATE],
                         ids=["smollm2", "expertune-generic", "expertune-gemma-turns"])
def test_training_rows_equal_trls_own_tokenisation(tok, template, tmp_path):
    """TRL tokenising the raw conversations and our pre-tokenised rows (what training hands TRL)
    give the same input_ids and labels, for the model's template and both fallback templates."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from expertune.models import load_model
    from expertune.train.device import plan_device
    from expertune.train.recipe import load_recipe
    from expertune.train.sft import build_trainer

    tok = _with_template(tok, template) if template else tok
    folder = tmp_path / "model"
    model = load_model(BUILTIN)
    model.save_pretrained(folder)  # the trainer loads its tokenizer (and template) from the folder
    tok.save_pretrained(folder)
    args = SFTConfig(output_dir=str(tmp_path / "trl"), report_to="none", max_length=None, completion_only_loss=True,
                     use_cpu=True, bf16=False, packing=False, disable_tqdm=True)
    theirs = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(EXAMPLES), processing_class=tok)
    recipe = load_recipe("cpu-quick", ["max_length=512", "packing=false"])
    examples = [{**ex, "group_id": f"g{i}", "response_id": i} for i, ex in enumerate(EXAMPLES)]
    ours = build_trainer(recipe, plan_device("fp32"), str(folder), {"train": examples, "val": []}, tmp_path / "ours")
    assert theirs.train_dataset["input_ids"] == ours.train_dataset["input_ids"]
    assert theirs.train_dataset["labels"] == ours.train_dataset["labels"]
    for ex, ids, labels in zip(EXAMPLES, ours.train_dataset["input_ids"], ours.train_dataset["labels"]):
        assert [t if m else -100 for t, m in zip(*render(ex["prompt"] + ex["completion"], tok))] == labels
        if template != GEMMA_TEMPLATE:  # its end of turn is Gemma's own token (see the Gemma test)
            assert tok.eos_token_id in [t for t in labels if t != -100]
