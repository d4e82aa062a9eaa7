import numpy as np
from datasketch import MinHash

from curate_helpers import build, findings, record, set_checks, words
from expertune.curate import run_checks
from expertune.curate.minhash import signatures, similar_pairs
from expertune.curate.text import WordTable, normalise

BASE = words(40, seed=1)


def one_word_changed(text: str, position: int, new: str = "zebra") -> str:
    w = text.split()
    w[position] = new
    return " ".join(w)


def test_signatures_are_datasketch_minhashes():
    h = np.array([5, 17, 2**31 + 7, 99, 12345678], np.uint32)
    sig = signatures(h, np.array([0, 0, 0, 2, 2]), 3, 32, seed=1)
    for doc, values in ((0, [5, 17, 2**31 + 7]), (2, [99, 12345678])):
        m = MinHash(num_perm=32, seed=1, hashfunc=lambda x: x)
        m.update_batch(values)
        assert (sig[doc] == m.hashvalues).all()
    assert (sig[1] == np.iinfo(np.uint32).max).all()  # a text without shingles


def test_pairs_match_exact_jaccard():
    texts = [BASE, one_word_changed(BASE, 20), words(40, seed=2), BASE.upper()]
    pairs = similar_pairs(WordTable(texts), [normalise(t) for t in texts], shingle=3, threshold=0.8, num_perm=128)
    found = {(a, b) for a, b in zip(pairs.left.tolist(), pairs.right.tolist())}
    assert found == {(0, 1), (1, 3)} or found == {(0, 1), (3, 1)}
    assert pairs.identical == [[0, 3]]
    assert all(0.8 <= j < 1 for j in pairs.jaccard)


def test_variants_and_cross_group_near_duplicates_are_reported_separately(ws):
    other = words(40, seed=3)
    build(ws, [
        record("Explain the rule.", BASE),
        record("Explain the rule.", one_word_changed(BASE, 20)),  # planted variant (Jaccard ~0.85)
        record("Explain the rule.", words(40, seed=4)),  # a genuinely different answer
        record("Explain another rule.", other),
        record("Explain a third rule.", one_word_changed(other, 5, "quagga")),  # planted cross-group copy
        record("Explain a fourth rule.", other[: len(other) // 2] + " " + words(20, seed=5)),  # half shared: look-alike
    ])
    report = run_checks(ws, only=["near-duplicates"])
    (variant,) = findings(report, "near-duplicates", "variants")
    assert len(variant.response_ids) == 2 and variant.severity == "info"
    (cross,) = findings(report, "near-duplicates", "cross-group")
    assert len(cross.response_ids) == 2 and len(cross.group_ids) == 2 and cross.severity == "warning"
    assert not findings(report, "near-duplicates", "prompts")


def test_near_identical_prompts_and_threshold_setting(ws):
    long_prompt = "Under what conditions will a court award specific performance of a contract for the sale of land " \
                  "rather than damages, and what defences can the seller raise against such an order today?"
    build(ws, [record(long_prompt, "Answer one is here."),
               record(long_prompt.replace("today", "now"), "Answer two is different."),
               record("What is frustration?", "Answer three.")])
    report = run_checks(ws, only=["near-duplicates"])
    (f,) = findings(report, "near-duplicates", "prompts")
    assert len(f.group_ids) == 2
    strict = set_checks(ws, {"near-duplicates": {"threshold": 0.99}})
    assert not findings(run_checks(strict, only=["near-duplicates"]), "near-duplicates", "prompts")
