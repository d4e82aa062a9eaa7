"""The documents index: Markdown, text, HTML and PDF read into passages, BM25 retrieval, no-op
re-adds, unreadable files reported, question proposals parsed from an LLM's reply."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from expertune.author._documents_read import MAX_WORDS, chunk_blocks
from expertune.author.documents import (
    Passage, add_documents, list_documents, parse_proposed_questions, passage_dict, questions_conversation,
    search_passages, ticked_passages,
)
from expertune.errors import InputError

DOCS = FIXTURES / "documents"


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one text line per line of each page (Helvetica, uncompressed)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(len(pages)))}] /Count {len(pages)} >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        shown = " ".join("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
                         for line in text.split("\n"))
        stream = f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream".encode())
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.fixture
def pdf(tmp_path):
    path = tmp_path / "damages.pdf"
    path.write_bytes(make_pdf(["Damages put the claimant where performance would have.",
                               "Remoteness limits damages to losses within the parties' contemplation\n(Hadley v Baxendale)."]))
    return path


def test_markdown_html_text_and_pdf_are_indexed_and_found(ws, pdf):
    report = add_documents(ws, [DOCS, pdf])
    assert sorted(report.added) == sorted(str(p.resolve()) for p in [*DOCS.iterdir(), pdf])
    assert (report.documents, report.failed, report.skipped) == (4, [], [])
    docs = {d.kind: d for d in list_documents(ws)}
    assert docs["markdown"].title == "Formation of contracts" and docs["html"].title == "Frustration of contract"
    assert docs["pdf"].chunks == 2  # one passage per page here

    [top, *_] = search_passages(ws, "what happens when the music hall burned down?")
    assert top.doc_path.endswith("frustration.html") and "Taylor v Caldwell" in top.text and top.page is None
    [hit] = search_passages(ws, "Hadley Baxendale remoteness", k=1)
    assert hit.doc_path.endswith("damages.pdf") and hit.page == 2 and "contemplation" in hit.text
    assert search_passages(ws, "postal")[0].text.startswith("## The postal rule")


def test_html_chrome_and_scripts_are_not_indexed(ws):
    add_documents(ws, [DOCS / "frustration.html"])
    assert search_passages(ws, "javascript tracking residue") == []
    assert search_passages(ws, "copyright footer") == [] and search_passages(ws, "home cases") == []


def test_stemming_matches_word_forms_and_stop_words_alone_find_nothing(ws):
    add_documents(ws, [DOCS])
    assert search_passages(ws, "frustrating contracts")[0].doc_path.endswith("frustration.html")
    assert search_passages(ws, "the of and is") == []
    assert search_passages(ws, "") == []
    assert len(search_passages(ws, "consideration contract offer", k=2)) == 2


def test_re_adding_an_unchanged_file_is_a_no_op_and_a_changed_file_replaces_its_passages(ws, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("Estoppel is a shield, not a sword.\n")
    add_documents(ws, [note, DOCS])
    manifest = ws.root / "documents" / "manifest.json"
    before = manifest.read_bytes()
    again = add_documents(ws, [note])
    assert again.unchanged == [str(note.resolve())] and again.added == again.updated == []
    assert manifest.read_bytes() == before

    note.write_text("Rectification corrects a written contract that fails to record the agreement.\n")
    changed = add_documents(ws, [note])
    assert changed.updated == [str(note.resolve())] and changed.documents == 4
    assert search_passages(ws, "estoppel shield") == []  # the old text is gone (and this process saw the change)
    assert search_passages(ws, "rectification")[0].doc_path == str(note.resolve())
    assert len(list((ws.root / "documents").glob("index-*"))) == 2  # the current and the previous generation


def test_unreadable_files_are_reported_and_the_rest_is_indexed(ws, tmp_path, pdf):
    from pypdf import PdfReader, PdfWriter

    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 law".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    writer = PdfWriter()
    writer.append(PdfReader(pdf))
    writer.encrypt("secret")
    with (tmp_path / "locked.pdf").open("wb") as f:
        writer.write(f)
    (tmp_path / "scan.pdf").write_bytes(make_pdf([""]))
    (tmp_path / "table.xlsx").write_bytes(b"PK")
    report = add_documents(ws, [tmp_path / "latin1.txt", tmp_path / "broken.pdf", tmp_path / "locked.pdf",
                                tmp_path / "scan.pdf", tmp_path / "table.xlsx", tmp_path / "missing.md", DOCS])
    reasons = {json.loads(f.model_dump_json())["path"].rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert reasons["latin1.txt"] == "not UTF-8 text (byte 3); re-save it as UTF-8"
    assert reasons["broken.pdf"].startswith("not a readable PDF")
    assert reasons["locked.pdf"] == "the PDF is password-protected; save an unprotected copy"
    assert reasons["scan.pdf"].startswith("no text found (a scanned PDF")
    assert reasons["table.xlsx"].startswith("unsupported type '.xlsx'")
    assert reasons["missing.md"] == "no such file or folder"
    assert len(report.added) == 3 and report.documents == 3
    assert str(report.failed[0]).startswith(str(tmp_path))  # "path: reason"


def test_unsupported_files_inside_a_folder_are_listed_as_skipped(ws, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nText about liens.\n")
    (folder / "b.csv").write_text("x,y\n")
    (folder / ".hidden.md").write_text("secret\n")
    report = add_documents(ws, [folder])
    assert len(report.added) == 1 and report.skipped == [str(folder / "b.csv")]


def test_ticked_passages_are_found_again_by_the_panel_query(ws):
    add_documents(ws, [DOCS])
    query = "consideration contract offer"
    found = search_passages(ws, query, k=3)
    assert len(found) == 3
    assert ticked_passages(ws, query, [2, 0], k=3) == [passage_dict(found[2]), passage_dict(found[0])]
    assert ticked_passages(ws, query, [], k=3) == []
    with pytest.raises(InputError, match="no longer in the documents panel"):
        ticked_passages(ws, query, [3], k=3)  # the panel showed 3 passages


def test_no_documents_means_no_passages(ws):
    assert search_passages(ws, "anything") == [] and list_documents(ws) == []


# --- chunking --------------------------------------------------------------------------------


def test_headings_start_chunks_and_long_paragraphs_are_cut_into_windows():
    long = " ".join(f"w{i}" for i in range(700))
    chunks = chunk_blocks(["Intro paragraph.", "# Heading", "Under the heading.", long])
    assert chunks[0] == "Intro paragraph." and chunks[1] == "# Heading\n\nUnder the heading."
    assert all(len(c.split()) <= MAX_WORDS for c in chunks)


@settings(max_examples=60)
@given(st.lists(st.lists(st.from_regex(r"[a-z#]{1,6}", fullmatch=True), min_size=1, max_size=400).map(" ".join),
                max_size=8))
def test_chunking_keeps_every_word_in_order(blocks):
    chunks = chunk_blocks(blocks)
    assert " ".join(chunks).split() == " ".join(blocks).split()
    assert all(c.strip() for c in chunks) and all(len(c.split()) <= MAX_WORDS for c in chunks)


# --- proposing questions ---------------------------------------------------------------------


def test_questions_conversation_carries_the_passage_and_the_count():
    passage = Passage(doc_path="/docs/damages.pdf", chunk_index=1, text="Remoteness limits damages.", score=1.0,
                      page=2, title="Damages")
    system, user = questions_conversation(passage, n=4)
    assert system["role"] == "system" and user["role"] == "user"
    assert "Passage from Damages, page 2:" in user["content"] and "Remoteness limits damages." in user["content"]
    assert "Propose 4 questions" in user["content"]


@pytest.mark.parametrize("reply, expected", [
    ("1. What is remoteness?\n2. Which case sets the test?\n3) Does it apply to torts?",
     ["What is remoteness?", "Which case sets the test?", "Does it apply to torts?"]),
    ("Here are three questions:\n\n- **What is remoteness?**\n- \"Which case sets the test?\"\n* What is remoteness?",
     ["What is remoteness?", "Which case sets the test?"]),
    ("Sure! What is remoteness?\nWhich case sets the test?\nThese should help.", ["Sure! What is remoteness?", "Which case sets the test?"]),
    ("Q1: What is remoteness?\nQ2. Question: which case?", ["What is remoteness?", "which case?"]),
    ("No questions here.", []),
])
def test_parse_proposed_questions(reply, expected):
    assert parse_proposed_questions(reply) == expected


_question = st.from_regex(r"[A-Z][a-z]{1,8}( [a-z]{1,8}){0,6}\?", fullmatch=True)


@given(st.lists(_question, min_size=1, max_size=8, unique_by=str.casefold),
       st.sampled_from(["{i}. {q}", "{i}) {q}", "- {q}", "* {q}", "**{i}.** {q}"]))
def test_numbered_or_bulleted_questions_come_back_as_written(questions, style):
    reply = "Here you go:\n" + "\n".join(style.format(i=i, q=q) for i, q in enumerate(questions, 1)) + "\n"
    assert parse_proposed_questions(reply) == questions


def test_html_inline_elements_stay_inside_their_paragraph(ws):
    add_documents(ws, [DOCS / "frustration.html"])
    [hit] = search_passages(ws, "Davis Contractors", k=1)
    assert "makes performance impossible or radically different (Davis Contractors v Fareham)." in hit.text
    assert hit.text.startswith("# Frustration\n\n")


# --- the CLI ---------------------------------------------------------------------------------

_CLI = "import sys; from expertune.cli import app as a; sys.argv[0] = 'expertune'; a.main()"


def cli(*args, cwd=None):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_cli_docs_add_list_search(ws, tmp_path):
    bracket = tmp_path / "[bold]notes.md"
    bracket.write_text("# [red]Liens[/red]\n\nA lien is a right to retain goods until a debt is paid.\n")
    added = cli("-w", str(ws.root), "docs", "add", str(DOCS), str(bracket), str(tmp_path / "gone.md"))
    assert added.returncode == 2 and f"{tmp_path / 'gone.md'}: no such file or folder" in added.stderr
    assert "added 4, updated 0, unchanged 0, failed 1: 4 documents" in added.stdout
    again = cli("-w", str(ws.root), "docs", "add", str(DOCS), "--json")
    assert again.returncode == 0 and len(json.loads(again.stdout)["unchanged"]) == 3
    listed = cli("-w", str(ws.root), "docs", "list", "--json")
    assert sorted(d["kind"] for d in json.loads(listed.stdout)) == ["html", "markdown", "markdown", "text"]
    found = cli("-w", str(ws.root), "docs", "search", "lien retain goods", "-k", "1")
    assert found.returncode == 0 and "[red]Liens[/red]" in found.stdout and "[bold]notes.md" in found.stdout
    hits = json.loads(cli("-w", str(ws.root), "docs", "search", "postal rule", "--json").stdout)
    assert hits[0]["doc_path"].endswith("contracts.md") and hits[0]["score"] > 0
    removed = cli("-w", str(ws.root), "docs", "remove", str(bracket), "--json")
    assert removed.returncode == 0 and json.loads(removed.stdout)["documents"] == 3


def test_a_half_written_generation_from_a_killed_add_is_ignored_then_replaced(ws, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("Novation replaces a contract with a new one.\n")
    add_documents(ws, [note])
    junk = ws.root / "documents" / "index-2"  # what a `docs add` killed while writing generation 2 leaves
    junk.mkdir()
    (junk / "chunks.jsonl").write_text('{"doc": "x", "chunk": 0, "page": null, "text": "half')
    assert search_passages(ws, "novation")[0].doc_path == str(note.resolve())  # readers follow the manifest
    note.write_text("Assignment transfers the benefit of a contract.\n")
    assert add_documents(ws, [note]).updated == [str(note.resolve())]
    assert search_passages(ws, "assignment benefit")[0].text == "Assignment transfers the benefit of a contract."
    assert json.loads((ws.root / "documents" / "manifest.json").read_text())["generation"] == 2


def test_removing_documents_takes_their_passages_out(ws, tmp_path):
    from expertune.author.documents import remove_documents

    note = tmp_path / "note.md"
    note.write_text("Privity: only parties to a contract can sue on it.\n")
    add_documents(ws, [DOCS, note])
    report = remove_documents(ws, [DOCS, tmp_path / "never-added.md"])
    assert sorted(report.removed) == sorted(str(p.resolve()) for p in DOCS.iterdir()) and report.documents == 1
    assert [f.reason for f in report.failed] == ["not in the index (see `expertune docs list`)"]
    assert search_passages(ws, "postal rule") == [] and search_passages(ws, "privity")[0].doc_path == str(note.resolve())
    note.unlink()  # a file that is gone can still be removed
    assert remove_documents(ws, [note]).documents == 0
    assert search_passages(ws, "privity") == [] and list_documents(ws) == []
    assert add_documents(ws, [DOCS]).documents == 3  # and the index starts again from empty
