from curate_helpers import build, findings, record, set_settings
from expertune.curate import run_checks

GERMAN = "Ein Vertrag kommt durch Angebot und Annahme zustande; beide Erklärungen müssen übereinstimmen und zugehen."
FRENCH = "Le contrat est formé par la rencontre d'une offre et d'une acceptation par lesquelles les parties s'engagent."
ENGLISH_WITH_LATIN = ("A bona fide purchaser takes free of equitable interests; the doctrine of res ipsa loquitur, "
                      "inter alia, belongs to tort rather than contract law.")
ENGLISH_WITH_CODE = "Store the clause like this:\n```python\nclausula = {'nombre': 'fuerza mayor', 'efecto': 'suspensión'}\n```\nThen cite it in the contract."


def test_responses_in_other_languages_are_flagged_and_look_alikes_are_not(ws):
    build(ws, [record("Q1?", GERMAN), record("Q2?", FRENCH), record("Q3?", ENGLISH_WITH_LATIN),
               record("Q4?", ENGLISH_WITH_CODE), record("Q5?", "Ja."),  # too short to judge
               record("Q6?", "Consideration must be sufficient but need not be adequate, as Chappell v Nestlé shows.")])
    report = run_checks(ws, only=["language"])
    assert {f.data["language"] for f in findings(report, "language")} == {"de", "fr"}
    assert all(f.severity == "warning" for f in report.findings)
    assert report.results[0].stats["languages"]["en"] == 3


def test_workspace_languages_are_respected(ws):
    build(ws, [record("Q1?", GERMAN), record("Q2?", FRENCH)])
    ws = set_settings(ws, languages=["en", "de-DE"])
    (f,) = run_checks(ws, only=["language"]).findings
    assert f.data["language"] == "fr"
