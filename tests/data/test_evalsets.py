import pytest

from conftest import EXAMPLES, write_jsonl
from expertune.data.evalsets import add_evalset, get_evalset, list_evalsets
from expertune.errors import InputError, NotFound


def test_bundled_sets_register_with_kind_and_domain(ws):
    assert add_evalset(ws, EXAMPLES / "exam.jsonl")["kind"] == "mcq"
    assert add_evalset(ws, EXAMPLES / "classify.jsonl")["kind"] == "classify"
    ood = add_evalset(ws, EXAMPLES / "out_of_domain.jsonl")
    assert ood["kind"] == "prompts" and ood["in_domain"] is False
    exam = get_evalset(ws, "exam")
    assert len(exam["items"]) == 12 and exam["items"][0]["payload"]["answer"] in "ABCD"
    assert {s["name"] for s in list_evalsets(ws)} == {"exam", "classify", "out_of_domain"}


def test_re_adding_is_a_no_op_and_changed_content_needs_replace(ws, tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a"}, {"prompt": "b"}])
    assert add_evalset(ws, f)["created"]
    assert not add_evalset(ws, f)["created"]
    write_jsonl(f, [{"prompt": "c"}])
    with pytest.raises(InputError, match="--replace"):
        add_evalset(ws, f)
    assert add_evalset(ws, f, replace=True)["items"] == 1


def test_bad_lines_are_named(ws, tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a"}, "{oops", {"nothing": 1}])
    with pytest.raises(InputError) as err:
        add_evalset(ws, f)
    assert "p.jsonl:2" in str(err.value) and "p.jsonl:3" in str(err.value)
    with pytest.raises(NotFound, match="evalsets add"):
        get_evalset(ws, "p")
