"""Chat templates for models that ship none.

A base model has no chat format, so expertune supplies one explicitly. The template actually used
is written next to every adapter (chat_template.jinja) and read back by evaluation and serving, so
a conversation renders identically everywhere.
"""

from __future__ import annotations

# Gemma's own turn markers exist in its vocabulary as special tokens; reusing them keeps the
# format close to the instruction-tuned Gemma models.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{% if role == 'system' %}{{ '<start_of_turn>user\n' + message['content'] + '\n\n' }}"
    "{% else %}{% if not (loop.index0 == 1 and messages[0]['role'] == 'system') %}{{ '<start_of_turn>' + role + '\n' }}{% endif %}"
    "{{ message['content'] + '<end_of_turn>\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

# For any other model without a template: plain role headers, and every assistant turn ends with
# the tokenizer's EOS so the model learns to stop.
GENERIC_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '### System\n' + message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### User\n' + message['content'] + '\n\n' }}"
    "{% else %}{{ '### Assistant\n' + message['content'] + eos_token + '\n\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant\n' }}{% endif %}"
)


def fallback_template(model_type: str) -> tuple[str, str, str | None]:
    """(template, its name, end-of-turn token to use as EOS or None for the tokenizer's own)."""
    if model_type.startswith("gemma"):
        return GEMMA_TEMPLATE, "expertune-gemma-turns", "<end_of_turn>"
    return GENERIC_TEMPLATE, "expertune-generic", None
