from curate_helpers import build, findings, record
from expertune.curate import run_checks

ANSWER = "Consideration must move from the promisee, but it need not move to the promisor."


def test_planted_duplicates_are_found_and_look_alikes_are_not(ws):
    build(ws, [
        # planted: the same answer in another form inside one group, and copied to another group
        record("What is consideration?", ANSWER),
        record("What is consideration?", "consideration must move from the promisee -- but it need NOT move to the promisor"),
        record("Who must provide consideration?", ANSWER),
        # planted: one question split over two groups (differs only in case and punctuation)
        record("Is past consideration good consideration?", "No, as a rule past consideration is no consideration."),
        record("is past consideration good consideration", "Generally not; see Roscorla v Thomas."),
        # look-alikes: short answers repeat legitimately; similar but different answers
        record("Is silence acceptance?", "No."),
        record("Can an offeror waive communication of acceptance?", "No."),
        record("What is an offer?", "An offer is a promise to be bound on stated terms once accepted."),
        record("What is an invitation to treat?", "An invitation to treat is an invitation to make offers, not an offer."),
    ])
    report = run_checks(ws, only=["duplicates"])
    responses = findings(report, "duplicates", "response")
    assert len(responses) == 1
    assert len(responses[0].response_ids) == 3 and responses[0].data["scope"] == "cross-group"
    prompts = findings(report, "duplicates", "prompt")
    assert len(prompts) == 1 and len(prompts[0].group_ids) == 2
    assert all(f.severity == "warning" for f in report.findings)


def test_within_group_copy_is_reported_as_within_group(ws):
    build(ws, [record("Q one?", ANSWER), record("Q one?", ANSWER.upper())])
    (f,) = run_checks(ws, only=["duplicates"]).findings
    assert f.data["scope"] == "within-group" and "within group" in f.message
