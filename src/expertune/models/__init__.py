"""Base models: resolution (builtin, folder, GGUF, hub), GGUF cache, chat templates, loading."""

from expertune.models.builtin import BUILTINS
from expertune.models.loading import count_parameters, load_model, load_tokenizer, model_info
from expertune.models.resolve import ResolvedModel, resolve

__all__ = ["BUILTINS", "ResolvedModel", "count_parameters", "load_model", "load_tokenizer", "model_info", "resolve"]
