from curate_helpers import build, findings, record, set_checks, words
from expertune.curate import run_checks
from expertune.curate.runner import cached_tokenizer


def _tokens(ws, text: str, prompt: str = "Q0?") -> int:
    tok = cached_tokenizer(ws.settings.base_model)
    msgs = [{"role": "system", "content": "Be accurate."}, {"role": "user", "content": prompt}]
    return len(tok(tok.apply_chat_template([*msgs, {"role": "assistant", "content": text}], tokenize=False),
                   add_special_tokens=False)["input_ids"])


def test_truncation_is_an_error_and_extreme_outliers_are_warnings(ws):
    normal = [record(f"Q{i}?", words(30, seed=i)) for i in range(24)]
    build(ws, [*normal,
               record("Long?", words(400, seed=99)),  # planted: over max_length
               record("Short?", "Yes.")])  # planted: extreme short outlier
    limit = _tokens(ws, words(30, seed=0)) + 30  # every normal answer fits with room to spare
    ws = set_checks(ws, {"length": {"max_length": limit}})
    report = run_checks(ws, only=["length"])
    (cut,) = findings(report, "length", "truncated")
    assert cut.severity == "error" and cut.data["tokens"] > limit and "max_length" in cut.message
    (short,) = findings(report, "length", "outlier-short")
    assert short.severity == "warning"
    assert len(report.findings) == 2  # the long answer is past the outlier bound too, but reported once
    stats = report.results[0].stats
    assert stats["exact_counts"] == 26 and stats["max_length"] == limit


def test_counts_use_the_chat_template_and_run_gate_max_length_overrides(ws):
    build(ws, [record("Q?", "An answer of a few words.")])
    exact = _tokens(ws, "An answer of a few words.", "Q?")
    assert not run_checks(ws, only=["length"], max_length=exact).findings
    (f,) = run_checks(ws, only=["length"], max_length=exact - 1).findings
    assert f.data["tokens"] == exact


def test_beyond_exact_limit_truncation_stays_exact(ws):
    build(ws, [*(record(f"Q{i}?", words(20, seed=i)) for i in range(120)), record("Long?", words(500, seed=1))])
    ws = set_checks(ws, {"length": {"exact_limit": 100, "max_length": 400}})
    report = run_checks(ws, only=["length"])
    (cut,) = findings(report, "length", "truncated")
    assert cut.data["tokens"] == _tokens(ws, words(500, seed=1), "Long?")
    assert report.results[0].stats["estimated_counts"] > 0
