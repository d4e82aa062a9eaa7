"""Field checks shared by the JSON formats, and the optional fields every record may carry."""

from __future__ import annotations

from typing import Any, Literal

from expertune.data.records import Mcq, Record, Turn
from expertune.store.tables import STATUSES

_COMMON_KEYS = frozenset(
    {"topic", "tags", "rating", "preferred", "author", "model", "meta", "gen_params", "generation", "status"}
)


class Invalid(Exception):
    """A problem with one record; the message becomes the Reject reason, so it must say the fix."""


def json_type(value: Any) -> str:
    """The JSON name of a value's type, which is what a user editing the file sees."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe(value: Any) -> str:
    """A value as a reason shows it: short scalars verbatim, anything else by its JSON type."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        shown = repr(value)
        if len(shown) <= 40:
            return shown
    return json_type(value)


def required_text(obj: dict[str, Any], key: str, hint: str) -> str:
    """A string field that must be present and non-blank; `hint` says what the format expects."""
    if key not in obj:
        raise Invalid(f"missing field '{key}': {hint}")
    value = obj[key]
    if not isinstance(value, str):
        raise Invalid(f"field '{key}' must be a string, got {json_type(value)}")
    if not value.strip():
        raise Invalid(f"field '{key}' is empty: {hint}")
    return value


def optional_text(obj: dict[str, Any], key: str) -> str | None:
    """A string field that may be absent or null; a blank string counts as absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"field '{key}' must be a string, got {json_type(value)}")
    return value if value.strip() else None


def _optional_dict(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise Invalid(f"field '{key}' must be an object, got {json_type(value)}")
    return value


def _optional_bool(obj: dict[str, Any], key: str, name: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Invalid(f"field '{name}' must be true or false, got {json_type(value)}")
    return value


def _rating(obj: dict[str, Any], meta: dict[str, Any] | None) -> int | None:
    # A top-level rating wins; tools that export reviews often tuck it into meta instead.
    if obj.get("rating") is not None:
        value, name = obj["rating"], "rating"
    elif meta is not None and meta.get("rating") is not None:
        value, name = meta["rating"], "meta.rating"
    else:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise Invalid(f"field '{name}' must be a whole number from 1 to 5, got {describe(value)}")
    return value


def record_status(value: Any, name: str) -> str | None:
    """A review status: accepted, draft or rejected; absent or blank means the import's --status."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().lower() in STATUSES:
        return value.strip().lower()
    raise Invalid(f"{name} must be one of {', '.join(STATUSES)}, got {describe(value)}")


def _tags(obj: dict[str, Any]) -> list[str]:
    value = obj.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise Invalid('field \'tags\' must be a list of strings, e.g. ["billing", "refunds"]')
    return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))


def _author(obj: dict[str, Any]) -> tuple[str | None, Literal["human", "model"]]:
    # A model id says who wrote the response even when a human name is given as well.
    model = optional_text(obj, "model")
    if model is not None:
        return model.strip(), "model"
    author = optional_text(obj, "author")
    return (author.strip() if author else None), "human"


def _meta_with_extra(meta: dict[str, Any] | None, extra: dict[str, Any]) -> dict[str, Any] | None:
    # Unknown keys are kept rather than dropped; the key is prefixed until it clashes with nothing.
    if not extra:
        return None if meta is None else dict(meta)
    merged = dict(meta or {})
    key = "extra"
    while key in merged:
        key = "_" + key
    merged[key] = extra
    return merged


def build_record(
    obj: dict[str, Any],
    line: int,
    *,
    known: frozenset[str],
    prompt: str,
    response: str,
    system: str | None = None,
    context: list[Turn] | None = None,
    mcq: Mcq | None = None,
    topic_fallback: str | None = None,
    default_topic: str | None = None,
) -> Record:
    """A Record from the format-specific parts plus the common optional fields of `obj`."""
    meta = _optional_dict(obj, "meta")
    gen_params = _optional_dict(obj, "gen_params")
    if gen_params is None:
        gen_params = _optional_dict(obj, "generation")
    preferred = _optional_bool(obj, "preferred", "preferred")
    if meta is not None:
        preferred = (
            preferred
            or _optional_bool(meta, "preferred", "meta.preferred")
            or _optional_bool(meta, "rated_better", "meta.rated_better")
        )
    topic = optional_text(obj, "topic")
    topic = topic.strip() if topic else topic_fallback or default_topic
    author, author_kind = _author(obj)
    extra = {key: value for key, value in obj.items() if key not in known | _COMMON_KEYS}
    return Record(
        line=line,
        prompt=prompt,
        response=response,
        system=system,
        context=context or [],
        topic=topic,
        tags=_tags(obj),
        rating=_rating(obj, meta),
        preferred=preferred,
        author=author,
        author_kind=author_kind,
        gen_params=gen_params,
        meta=_meta_with_extra(meta, extra),
        mcq=mcq,
        status=record_status(obj.get("status"), "field 'status'"),
    )
