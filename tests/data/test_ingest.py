import pytest
from sqlalchemy import func, select

from conftest import chat_record, write_jsonl
from expertune.data.ingest import import_file, import_files
from expertune.store.tables import ImportReject, PromptGroup, Provenance, Response


def _counts(ws):
    with ws.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (PromptGroup, Response, Provenance))


def test_same_prompt_after_whitespace_normalisation_is_one_group(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [
        chat_record("What is an offer?", "A definite promise.", system="Tutor."),
        chat_record("What  is an\toffer? ", "A proposal to be bound.", system=" Tutor."),
        chat_record("What is acceptance?", "Assent to the offer.", system="Tutor."),
    ])
    r = import_file(ws, f)
    assert (r.read, r.imported_groups, r.imported_responses, r.rejected, r.duplicates) == (3, 2, 3, 0, 0)
    assert _counts(ws) == (2, 3, 3)


def test_reimport_is_idempotent(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [chat_record("Q1", "A1"), chat_record("Q1", "A2"), chat_record("Q2", "A3")])
    import_file(ws, f)
    again = import_file(ws, f)
    assert (again.imported_groups, again.imported_responses, again.duplicates) == (0, 0, 3)
    assert _counts(ws) == (2, 3, 3)


def test_rejects_block_the_import_unless_allowed(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [chat_record("Q1", "A1"), "{not json", chat_record("Q2", "A2")])
    strict = import_file(ws, f)
    assert not strict.committed and [x.line for x in strict.rejects] == [2]
    assert _counts(ws) == (0, 0, 0)
    loose = import_file(ws, f, allow_rejects=True)
    assert loose.committed and loose.imported_responses == 2 and loose.rejected == 1
    with ws.session() as s:
        assert s.scalars(select(ImportReject.line)).all() == [2]


def test_provenance_keeps_file_and_line(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [chat_record("Q1", "A1"), chat_record("Q2", "A2")])
    import_file(ws, f)
    with ws.session() as s:
        rows = s.execute(select(Response.text, Provenance.line, Provenance.source_path).join(Provenance)).all()
    assert sorted((t, line) for t, line, _ in rows) == [("A1", 1), ("A2", 2)]
    assert all(p.endswith("a.jsonl") for *_, p in rows)


def test_meta_rating_and_preference_are_kept(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [
        chat_record("Q1", "A1", meta={"rating": 4, "rated_better": True, "source": "x"}),
        chat_record("Q1", "A2"),
    ])
    import_file(ws, f, status="draft")
    with ws.session() as s:
        rows = {r.text: r for r in s.scalars(select(Response))}
    assert rows["A1"].rating == 4 and rows["A1"].preferred and rows["A1"].meta["source"] == "x"
    assert {r.status for r in rows.values()} == {"draft"}


def test_a_records_own_status_wins_over_the_imports_and_a_bad_one_names_the_line(ws, tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [
        chat_record("Q1", "A good answer.", status="accepted"),
        chat_record("Q1", "A careless answer.", status="Rejected", meta={"rating": 1}),
        chat_record("Q1", "An answer under review."),
    ])
    import_file(ws, f, status="draft")
    with ws.session() as s:
        assert dict(s.execute(select(Response.text, Response.status)).all()) == {
            "A good answer.": "accepted", "A careless answer.": "rejected", "An answer under review.": "draft"}
    bad = write_jsonl(tmp_path / "b.jsonl", [chat_record("Q2", "A2", status="approved")])
    report = import_file(ws, bad)
    assert not report.committed
    assert [(r.line, r.reason) for r in report.rejects] == [
        (1, "field 'status' must be one of accepted, draft, rejected, got 'approved'")]


def test_csv_status_column(ws, tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("prompt,response,Status\nQ1,A1,rejected\nQ1,A2,\n", encoding="utf-8")
    import_file(ws, f)
    with ws.session() as s:
        assert dict(s.execute(select(Response.text, Response.status)).all()) == {"A1": "rejected", "A2": "accepted"}
    bad = tmp_path / "b.csv"
    bad.write_text("prompt,response,Status\nQ2,A2,maybe\n", encoding="utf-8")
    assert [r.reason for r in import_file(ws, bad).rejects] == [
        "status in column 'Status' must be one of accepted, draft, rejected, got 'maybe'"]


def test_multi_turn_context_and_mcq_fields_are_stored(ws, tmp_path):
    ctx = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    f = write_jsonl(tmp_path / "a.jsonl", [
        chat_record("And then?", "Then this.", context=ctx),
        {"question": "Which?", "options": ["x", "y", "z"], "answer": "B", "area": "Formation", "explanation": "Because y."},
    ])
    import_file(ws, f)
    with ws.session() as s:
        groups = {g.kind: g for g in s.scalars(select(PromptGroup))}
        assert groups["chat"].context == ctx
        assert groups["mcq"].mcq == {"question": "Which?", "options": ["x", "y", "z"], "answer": "B",
                                     "area": "Formation", "explanation": "Because y."}
        assert groups["mcq"].topic.name == "Formation"
        assert "Answer: B" in groups["mcq"].responses[0].text


def test_multi_file_import_with_a_bad_file_writes_nothing(ws, tmp_path):
    good1 = write_jsonl(tmp_path / "good1.jsonl", [chat_record("Q1", "A1")])
    bad = write_jsonl(tmp_path / "bad.jsonl", [chat_record("Q2", "A2"), "{not json"])
    good2 = write_jsonl(tmp_path / "good2.jsonl", [chat_record("Q3", "A3")])
    reports = import_files(ws, [good1, bad, good2])
    assert [r.committed for r in reports] == [False, False, False]
    assert [(r.read, r.rejected) for r in reports] == [(1, 0), (2, 1), (1, 0)]
    assert _counts(ws) == (0, 0, 0)


def test_multi_file_import_with_a_missing_file_reports_all_and_writes_nothing(ws, tmp_path):
    good1 = write_jsonl(tmp_path / "good1.jsonl", [chat_record("Q1", "A1")])
    good2 = write_jsonl(tmp_path / "good2.jsonl", [chat_record("Q3", "A3"), "{not json"])
    reports = import_files(ws, [good1, tmp_path / "missing.jsonl", good2])
    assert [(r.line, r.reason) for r in reports[1].rejects] == [(0, "no such file")]
    assert [x.line for x in reports[2].rejects] == [2]  # the file after the missing one was still read
    assert _counts(ws) == (0, 0, 0)
    allowed = import_files(ws, [good1, tmp_path / "missing.jsonl", good2], allow_rejects=True)
    assert [r.committed for r in allowed] == [True, False, True]
    assert _counts(ws) == (2, 2, 2)


def test_multi_file_import_is_one_transaction(ws, tmp_path, monkeypatch):
    """A failure while writing the last file leaves nothing of the first."""
    import expertune.data.ingest as ingest

    good1 = write_jsonl(tmp_path / "good1.jsonl", [chat_record("Q1", "A1")])
    good2 = write_jsonl(tmp_path / "good2.jsonl", [chat_record("Q2", "A2")])
    calls = []
    real = ingest._write_records

    def failing(session, batch, records, *args):
        calls.append(batch.id)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(session, batch, records, *args)

    monkeypatch.setattr(ingest, "_write_records", failing)
    with pytest.raises(OSError):
        import_files(ws, [good1, good2])
    assert _counts(ws) == (0, 0, 0)
