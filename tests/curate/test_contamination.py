from conftest import write_jsonl
from curate_helpers import build, findings, record, set_checks, words
from expertune.curate import run_checks
from expertune.data.evalsets import add_evalset

EXAM_Q = ("A company advertised a reward for the return of a lost dog and a reader who had not seen the "
          "advertisement returned it; can the reader claim the reward under the unilateral contract?")
CITATION = "Pharmaceutical Society of Great Britain v Boots Cash Chemists (Southern) Ltd [1953] 1 QB 401"
EXPLANATION = ("A reward offered to the world is a unilateral offer accepted by performing the act, but only by someone "
               "who acts in the knowledge of the offer, so a finder who never saw the advertisement cannot claim it.")


def test_eval_items_in_training_text_are_found_and_shared_citations_are_not(ws, tmp_path):
    build(ws, [
        # planted: the exam question pasted into a training answer (with other words around it)
        record("Discuss rewards.", "Consider this: " + EXAM_Q + " The answer is no."),
        # planted: a short eval prompt (9 words) asked verbatim as a training prompt
        record("When is an offer to the world accepted by conduct?", "By performance."),
        # planted: an exam explanation pasted whole (over 26 consecutive words)
        record("Can a finder claim a reward?", "In short: " + EXPLANATION),
        # look-alike: shares a long case citation with an eval explanation, nothing else
        record("Are shop displays offers?", f"No: {CITATION} held that the display was an invitation to treat."),
        # look-alike: the eval question appears in a held-out group, which is not trained on
        record("Held out.", EXAM_Q + " " + words(10, seed=1)),
    ], splits={"Held out.": "test"})
    add_evalset(ws, write_jsonl(tmp_path / "exam.jsonl", [
        {"question": EXAM_Q, "options": ["Yes", "No", "Only half", "Only if she knew"], "answer": "B",
         "explanation": f"See Williams v Carwardine; compare {CITATION} on invitations, and Gibbons v Proctor on knowledge."},
        {"question": "Who may claim a reward?", "options": ["Anyone", "Only those who knew of it"], "answer": "B",
         "explanation": EXPLANATION},
    ]))
    add_evalset(ws, write_jsonl(tmp_path / "prompts.jsonl", [
        {"prompt": "When is an offer to the world accepted by conduct?"},
        {"prompt": "Name three remedies for breach."},
    ]))
    report = run_checks(ws, only=["contamination"])
    found = findings(report, "contamination")
    assert sorted((f.data["kind"], f.data["evalset"], f.data["field"]) for f in found) == [
        ("prompt", "prompts", "text"), ("response", "exam", "explanation"), ("response", "exam", "text")]
    assert all(f.severity == "error" for f in found)
    (pasted,) = [f for f in found if f.data["kind"] == "response" and f.data["field"] == "text"]
    text = report.data.response_text(pasted.response_ids[0])
    (span,) = pasted.spans
    assert text[span.start : span.end] == EXAM_Q[:-1]  # the highlight covers the pasted question


def test_ngram_size_is_configurable(ws, tmp_path):
    build(ws, [record("Q?", "It is settled that " + CITATION + " decided it.")])
    add_evalset(ws, write_jsonl(tmp_path / "e.jsonl", [{"prompt": f"Explain {CITATION} briefly, and say whether the court would decide the same way today for goods "
                                                      "offered on a website that takes payment at checkout automatically."}]))
    assert not run_checks(ws, only=["contamination"]).findings
    loose = set_checks(ws, {"contamination": {"ngram": 8, "min_coverage": 0.3}})
    assert findings(run_checks(loose, only=["contamination"]), "contamination")


def test_no_eval_sets_means_nothing_to_compare(ws):
    build(ws, [record("Q?", "A.")])
    report = run_checks(ws, only=["contamination"])
    assert not report.findings and report.results[0].stats["eval_segments"] == 0
