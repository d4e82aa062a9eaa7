"""The one renderer: a conversation, a chat template and a system-prompt policy -> token ids and
the mask of the tokens a model is trained (or scored) on.

Every path that turns a conversation into tokens goes through `render`: the training audit,
training itself (TRL receives our `input_ids` and `completion_mask` and does no tokenising of its
own), completion scoring (confidence, perplexity, classification), generation and serving. Paths
that agree only by convention are how a model ends up trained on one prompt format and evaluated
or served on another (the field's classic train/serve template drift).

The rules are TRL's for conversational prompt-completion data, so a pre-tokenised dataset trains
exactly as TRL would have trained the raw one (tests/llm/test_render.py pins this):
- a conversation that ends with an assistant turn is prompt + completion; the completion is that
  last turn as the template renders it, end-of-turn (EOS) token included;
- any other conversation is a prompt, rendered with the template's generation prompt;
- the completion starts where the tokens of the prompt alone and of the whole conversation first
  differ (a template may render a prompt differently when an answer follows).
Text is rendered by the template, then encoded without adding special tokens (the template writes
them), as `apply_chat_template(tokenize=True)` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Mapping, NamedTuple, Sequence

from expertune.errors import ConfigError
from expertune.llm.base import Message


@dataclass(frozen=True)
class SystemPolicy:
    """What happens to a conversation's system prompt before it is rendered (a recipe setting).

    as-data: the conversation's own system prompt (the template's default when it has none);
    drop: no system prompt; override: `text` replaces whatever system prompt there was.
    An adapter records the policy it was trained with, and everything that renders for that
    adapter applies it (llm/local.py), so evaluation and serving see the prompts training saw.
    """

    mode: Literal["as-data", "drop", "override"] = "as-data"
    text: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("as-data", "drop", "override"):
            raise ConfigError(f"system prompt policy {self.mode!r}: expected as-data, drop or override")
        if self.mode == "override" and not self.text:
            raise ConfigError("system prompt policy override needs its text (system_prompt_text)")

    def apply(self, conversation: Sequence[Message]) -> list[Message]:
        if self.mode == "as-data":
            return list(conversation)
        rest = [m for m in conversation if m["role"] != "system"]
        if self.mode == "drop":
            return rest
        return [{"role": "system", "content": self.text or ""}, *rest]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def tag(self) -> str:
        """A short identity for cache keys; empty for as-data (nothing changes the conversation)."""
        if self.mode == "as-data":
            return ""
        if self.mode == "drop":
            return "system:drop"
        import hashlib

        return "system:override:" + hashlib.sha256((self.text or "").encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "SystemPolicy":
        """From `{"mode": ..., "text": ...}` (run.json's system_prompt_policy, the adapter marker)."""
        if not data:
            return AS_DATA
        return cls(data.get("mode") or "as-data", data.get("text"))

    @classmethod
    def from_recipe(cls, recipe: Any) -> "SystemPolicy":
        """From a training recipe (a Recipe or its dict form)."""
        get = recipe.get if isinstance(recipe, Mapping) else lambda k, d=None: getattr(recipe, k, d)
        return cls(get("system_prompt") or "as-data", get("system_prompt_text"))


AS_DATA = SystemPolicy()


class Rendered(NamedTuple):
    input_ids: list[int]
    completion_mask: list[int]  # 1 on the completion's tokens (EOS included), 0 on the prompt's

    @property
    def prompt_length(self) -> int:
        """Index of the first completion token (the length of the ids for a bare prompt)."""
        return len(self.input_ids) - sum(self.completion_mask)


def render_text(conversation: Sequence[Message], template, policy: SystemPolicy = AS_DATA, *,
                generation_prompt: bool = False) -> str:
    """The conversation as the chat template writes it, after the policy. `template` is the
    tokenizer that carries the chat template (the adapter's own for a tuned model)."""
    try:
        return template.apply_chat_template(policy.apply(conversation), tokenize=False,
                                            add_generation_prompt=generation_prompt)
    except Exception as err:  # a template that cannot render these roles is a model/settings problem
        raise ConfigError(f"the chat template cannot render this conversation ({type(err).__name__}: {err}); "
                          "check the roles it contains against the model's template") from None


def encode(template, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of rendered texts; the template already wrote the special tokens."""
    if not texts:
        return []
    return template(list(texts), add_special_tokens=False, return_attention_mask=False)["input_ids"]


def render(conversation: Sequence[Message], template, policy: SystemPolicy = AS_DATA, *, prefix: str = "") -> Rendered:
    """(input_ids, completion_mask) of a conversation; see the module docstring for the rules.
    `prefix` is text the assistant turn starts with, appended to a bare prompt (a scoring aid,
    e.g. "Answer:")."""
    conversation = policy.apply(conversation)
    if not conversation or conversation[-1]["role"] != "assistant":
        (ids,) = encode(template, [render_text(conversation, template, generation_prompt=True) + prefix])
        return Rendered(ids, [0] * len(ids))
    if prefix:
        raise ValueError("prefix applies to a bare prompt, not to a conversation that ends with its answer")
    prompt_ids, ids = encode(template, [render_text(conversation[:-1], template, generation_prompt=True),
                                        render_text(conversation, template)])
    start = 0
    for a, b in zip(prompt_ids, ids):
        if a != b:
            break
        start += 1
    return Rendered(ids, [0] * start + [1] * (len(ids) - start))
