from curate_helpers import build, findings, record, words
from expertune.curate import run_checks

LONG = ("A buyer ordered forty tonnes of steel for delivery in March, the seller delivered in April and the "
        "buyer rejected the goods; was the rejection lawful?")


def test_same_and_near_same_prompts_across_splits_are_errors(ws):
    build(ws, [
        record("What is consideration?", "Answer A."),
        record("what is CONSIDERATION", "Answer B.", system="Another system prompt."),  # planted: exact, other system prompt
        record(LONG, "Answer C."),
        record(LONG.replace("forty", "fifty"), "Answer D."),  # planted: near-same (one word)
        record("What is an offer?", "Answer E."),  # look-alike: shares the system prompt only
        record("What is acceptance?", "Answer F."),
        record("Define estoppel.", "Answer G."),
        record("Define estoppel!", "Answer H."),  # look-alike: same question but both in train
    ], splits={"what is CONSIDERATION": "test", LONG.replace("forty", "fifty"): "val", "What is acceptance?": "test"})
    report = run_checks(ws, only=["leakage"])
    leaks = findings(report, "leakage", "prompt")
    assert len(leaks) == 2 and all(f.severity == "error" for f in leaks)
    assert {f.records[0].split for f in leaks} == {"test", "val"}
    assert any("identical" in f.message for f in leaks) and any("Jaccard" in f.message for f in leaks)


def test_answers_copied_between_train_and_test_are_errors(ws):
    answer = words(30, seed=7)
    build(ws, [record("Question one?", answer), record("Question two?", answer),
               record("Question three?", "Yes."), record("Question four?", "Yes.")],
          splits={"Question two?": "test", "Question four?": "test"})
    (f,) = run_checks(ws, only=["leakage"]).findings
    assert f.data["kind"] == "response" and len(f.response_ids) == 2  # "Yes." is too short to count


def test_without_splits_leakage_is_not_checked_but_said(ws):
    build(ws, [record("Q?", "A.")], default_split=None)
    (f,) = run_checks(ws, only=["leakage"]).findings
    assert f.severity == "info" and "expertune split" in f.message
