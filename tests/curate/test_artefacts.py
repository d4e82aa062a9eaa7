import pytest
from sqlalchemy import select

from curate_helpers import build, findings, record, response_id
from expertune.curate import run_checks
from expertune.curate.artefacts import find_artefacts, find_turn_artefacts, fix_chat_prefixes, fix_turn
from expertune.curate.edits import fix_artefacts
from expertune.store import repo
from expertune.store.tables import Revision

PLANTED = {
    "chat-prefix": [
        "Assistant: An offer must be communicated before it can be accepted.",
        "The rule is simple.\n\nHuman: thanks!\n\nAssistant: You are welcome.",
        "Human\nWhat is an offer?\n\nAssistant\nA promise to be bound on terms.",
        "**User:** hi\n**AI:** An offer is a promise.",
        "Some text.\nUSER: and then?\nMore.",
    ],
    "boilerplate": [
        "As an AI language model, I cannot give legal advice, but generally an offer must be accepted.",
        "I'm sorry, but the rules differ between jurisdictions.",
        "I cannot help with that request.",
    ],
    "html": [
        "An offer<br>must be accepted.",
        "Damages&nbsp;are compensatory.",
        "<p>Consideration must move from the promisee.</p>",
    ],
    "markdown": ["Here is a template:\n```\nOFFER LETTER\nDear Sir,\n"],
    "encoding": ["The court\u2019s view was clear\u200b.", "The partyâ€™s duty is to mitigate."],
    "truncated": [
        "Damages are assessed at the date of breach, and the claimant must",
        "The general rule in Hadley v Baxendale limits recovery to losses that",
        "Promissory estoppel can suspend rights,",
    ],
    "empty": ["   \n\t "],
}

CLEAN = [
    "Human rights law is a separate subject; contract law is about agreements.",
    "User agreements online are contracts if the terms were reasonably brought to notice.",
    "The assistant manager signed the contract on the company's behalf.",
    "Assistant Commissioner: a title, not a speaker label, in this sentence.",
    "The tenant wrote: \"I cannot pay the rent this month.\" Is that a repudiation?",
    "See Carlill v Carbolic Smoke Ball Co [1893] 1 QB 256",
    "The limitation period is six years under s 5 of the Limitation Act 1980",
    "Remedies include:\n- damages\n- specific performance\n- injunctions",
    "| term | effect |\n|---|---|\n| condition | right to terminate |",
    "In code:\n```python\nif a < b and b > c:\n    print('<br>')\n```\nThat is all.",
    "Use `&nbsp;` only in HTML, never in plain text.",
    "Smith & Jones LLP advised on the Q&A session.",
    "Is a price of £5 < £10? Yes, and 10 > 5.",
    "The court held that the clause was a penalty.",
    "Consider three questions:\n\n1. Was there an offer?\n2. Was it accepted?\n3. Was there consideration?",
    "The answer depends on the jurisdiction (see Restatement (Second) of Contracts § 90)",
    "It was decided in 1893 by the Court of Appeal",
    "## Summary\nOffer, acceptance, consideration and intention",
]


@pytest.mark.parametrize("kind,text", [(k, t) for k, texts in PLANTED.items() for t in texts])
def test_planted_artefacts_are_found(kind, text):
    assert kind in {a.kind for a in find_artefacts(text)}


@pytest.mark.parametrize("text", CLEAN)
def test_clean_look_alikes_are_not_flagged(text):
    assert find_artefacts(text) == []


@pytest.mark.parametrize("text,fixed", [
    ("Assistant: X is Y.", "X is Y."),
    ("Human: What is X?\nAssistant: X is Y.", "X is Y."),
    ("X is Y.\n\nHuman: thanks\n\nAssistant: welcome", "X is Y."),
    ("Sure.\nAssistant: The rule is Z.", "Sure.\nThe rule is Z."),
    ("Human\nWhat?\n\nAssistant\nThe answer.", "The answer."),
    ("**User:** hi\n**Assistant:** hello there.", "hello there."),
    ("No labels here.", "No labels here."),
    ("Human: only a question?", "Human: only a question?"),  # nothing would remain: left for a person
])
def test_fix_chat_prefixes(text, fixed):
    assert fix_chat_prefixes(text) == fixed


def test_check_reports_kinds_with_severity_and_spans(ws):
    build(ws, [record("Q1?", "Assistant: An offer is a promise."),
               record("Q2?", "As an AI language model, I think consideration is needed."),
               record("Q3?", "Clean answer with a full stop.")])
    report = run_checks(ws, only=["artefacts"])
    (prefix,) = findings(report, "artefacts", "chat-prefix")
    assert prefix.severity == "error" and "fix artefacts" in prefix.message
    text = report.data.response_text(prefix.response_ids[0])
    assert text[prefix.spans[0].start : prefix.spans[0].end] == "Assistant: "
    (boiler,) = findings(report, "artefacts", "boilerplate")
    assert boiler.severity == "warning"
    assert len(report.findings) == 2


def test_fix_artefacts_writes_revisions_that_revert(ws):
    build(ws, [record("Q1?", "Human: What is an offer?\nAssistant: A promise to be bound."),
               record("Q2?", "Clean answer.")])
    rid = response_id(ws, "Human:")
    dry = fix_artefacts(ws)
    assert not dry.applied and len(dry.changes) == 1 and "-Human: What is an offer?" in dry.changes[0].diff()
    assert response_id(ws, "Human:") == rid  # nothing written by the dry run
    plan = fix_artefacts(ws, apply=True, author="tester")
    assert plan.applied
    with ws.session() as s:
        assert repo.get(s, "response", rid).text == "A promise to be bound."
        rev = s.scalar(select(Revision).where(Revision.entity_id == rid))
        assert rev.reason == "artefact fix" and rev.author == "tester"
        repo.revert_revision(s, rev.id, author="tester")
    with ws.session() as s:
        assert repo.get(s, "response", rid).text == "Human: What is an offer?\nAssistant: A promise to be bound."
    assert not findings(run_checks(ws, only=["artefacts"]), "artefacts", "empty")


# -- prompts, earlier turns and system prompts ------------------------------------------------
PROMPT_RESIDUE = [
    ("Human\nWhat is an offer?", "chat-prefix", 1),
    ("User: What is an offer?", "chat-prefix", 1),
    ("You said:\nWhat is an offer?", "chat-prefix", 1),
    ("ChatGPT said: An offer is a promise.", "chat-prefix", 1),
    ("**User:** What is an offer?", "chat-prefix", 1),
    ("human: what is an offer?", "chat-prefix", 1),
    ("System: You are a contracts tutor.", "chat-prefix", 1),
    ("SYSTEM\nYou are a contracts tutor.", "chat-prefix", 1),
    ("What is an offer?\nCopy code\nIs it binding?", "ui-text", 2),
    ("What is an offer?\n\nRegenerate", "ui-text", 3),
]
PROMPT_CLEAN = [
    "User agreements online: are they contracts?",
    "Human rights law or contract law: which applies?",
    "You said the offer lapsed. Why?",
    "Here is a chat log:\nUser: can I cancel?\nAssistant: yes.\nIs the assistant right?",
    "Users: who counts as one under the licence?",
    "System requirements: does the licence name them?",
    "you said the offer lapsed; why?",
    "Copy code from the template, then fill in the parties.",
]


@pytest.mark.parametrize("text,kind,line", PROMPT_RESIDUE)
def test_turn_residue_is_found_with_its_line(text, kind, line):
    (found,) = find_turn_artefacts(text)
    assert found.kind == kind and f"line {line}" in found.detail


@pytest.mark.parametrize("text", PROMPT_CLEAN)
def test_prose_starting_with_a_role_word_is_not_turn_residue(text):
    assert find_turn_artefacts(text) == []
    assert fix_turn(text) == text


def test_check_flags_residue_in_prompts_context_and_system_prompts(ws):
    build(ws, [
        record("You said:\nWhat is an offer?", "A promise to be bound.", system="Copy code\nBe accurate."),
        record("And then?", "Then it lapses.", context=[{"role": "user", "content": "User: how long does an offer last?"},
                                                        {"role": "assistant", "content": "A reasonable time."}]),
        record("User agreements: binding?", "Usually, if notice was reasonable."),
    ])
    report = run_checks(ws, only=["artefacts"])
    prefixes = findings(report, "artefacts", "chat-prefix")
    assert sorted(f.data["fields"][0] for f in prefixes) == ["context.0", "prompt"]
    assert any("prompt: pasted speaker label 'You said:' on line 1" in f.message for f in prefixes)
    (ui,) = findings(report, "artefacts", "ui-text")
    assert ui.spans[0].field == "system" and "line 1" in ui.message and ui.severity == "error"


def test_fix_artefacts_offers_prompt_fixes_as_group_revisions(ws):
    build(ws, [record("Human\nWhat is an offer?", "A promise to be bound.", system="ChatGPT said: be brief.",
                      context=[{"role": "user", "content": "You said:\nHi"}, {"role": "assistant", "content": "Hello."}])])
    dry = fix_artefacts(ws)
    (change,) = dry.changes
    assert change.entity == "group" and set(change.after) == {"prompt", "system", "context"}
    fix_artefacts(ws, apply=True, author="tester")
    with ws.session() as s:
        g = repo.get(s, "group", change.id)
        assert (g.prompt, g.system, g.context[0]["content"]) == ("What is an offer?", "be brief.", "Hi")
        assert {r.reason for r in repo.revisions(s, "group", g.id)} == {"artefact fix"}
    assert not findings(run_checks(ws, only=["artefacts"]), "artefacts", "chat-prefix")


def test_chat_ui_lines_in_answers_are_found_and_fixed():
    text = "Use this clause:\nCopy code\nThe offer lapses after 7 days."
    assert "ui-text" in {a.kind for a in find_artefacts(text)}
    assert fix_chat_prefixes(text) == "Use this clause:\nThe offer lapses after 7 days."
