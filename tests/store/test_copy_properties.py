"""Property: whatever text and JSON the store holds, SQLite -> PostgreSQL keeps it hash-identical,
or the copy is refused with a clean error and nothing committed."""

from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import create_engine, insert

from expertune.errors import ExpertuneError
from expertune.store import content, postgres
from expertune.store.copy import copy_store
from expertune.store.db import make_engine, upgrade
from expertune.store.tables import PromptGroup, Response

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(texts=["a\x00b"], meta=None, tags=[])
@example(texts=["t"], meta={"loss": float("inf")}, tags=[])
@example(texts=["x" * 70_000], meta={"": [1.5e300, "\x00"]}, tags=["é"])
@given(texts=st.lists(st.text(min_size=1), min_size=1, max_size=3), meta=json_values, tags=st.lists(st.text(), max_size=3))
def test_any_content_copies_identically_or_is_refused_cleanly(tmp_path_factory, pg_url, texts, meta, tags):
    src_url = f"sqlite:///{tmp_path_factory.mktemp('p') / 's.db'}"
    src = make_engine(src_url)
    upgrade(src)
    with src.begin() as conn:
        conn.execute(insert(PromptGroup), [{"id": 1, "key": "k", "prompt": texts[0], "context": [], "tags": tags}])
        conn.execute(insert(Response), [{"group_id": 1, "key": f"r{i}", "text": t, "meta": meta} for i, t in enumerate(texts)])
    target = make_engine(pg_url)
    try:
        report = copy_store(src_url, pg_url)
    except ExpertuneError as err:  # PostgreSQL stores neither NUL characters nor NaN/Infinity in JSON
        held = "".join(texts) + repr(meta) + "".join(tags)
        assert "\x00" in held or postgres._non_finite(meta), err
        assert "NUL" in str(err) or "NaN or Infinity" in str(err)
        with target.connect() as conn:
            assert not any(content.row_counts(conn).values())
        return
    with content.snapshot(src) as a, content.snapshot(target) as b:
        assert content.content_hash(a).digest == content.content_hash(b).digest == report.content_hash
    with target.begin() as conn:
        content.clear(conn)
