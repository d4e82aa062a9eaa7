"""Chat exports (ChatGPT, Claude, Open WebUI) parse into conversation trees with every branch; residue
is stripped and reported; malformed input is named by file and JSON path and nothing is lost.

Fixtures in tests/fixtures/exports/ follow the documented export shapes (see make_fixtures.py)."""

import copy
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from expertune.author.exports import ExportProblem, ParsedExport, parse_chat_export
from expertune.errors import ExpertuneError, InputError

EXPORTS = FIXTURES / "exports"


def branch_ids(conv):
    return [[t.id for t in b] for b in conv.branches()]


def by_kind(parsed: ParsedExport, kind: str) -> list[str]:
    return [str(p) for p in parsed.problems if p.kind == kind]


# --- ChatGPT ---------------------------------------------------------------------------------


def test_chatgpt_export_keeps_regenerations_and_edits_as_branches():
    parsed = parse_chat_export(EXPORTS / "chatgpt_conversations.json")
    assert parsed.format == "chatgpt" and [c.title for c in parsed.conversations] == ["Consideration basics", "Offer or invitation?"]
    conv = parsed.conversations[0]
    # A regenerated answer (a-1 / a-1-regen) and an edited first prompt (u-1 / u-1-edit) are both kept.
    assert branch_ids(conv) == [["u-1", "a-1"], ["u-1", "a-1-regen", "u-2", "a-2"], ["u-1-edit", "a-1-edit"]]
    turns = {t.id: t for t in conv.turns}
    assert turns["u-1"].parent_id is None and turns["a-2"].parent_id == "u-2"  # tool call and output spliced out
    assert turns["a-2"].model == "gpt-4o" and turns["u-1"].model is None and turns["u-1"].role == "user"
    assert "【" not in turns["a-2"].content and turns["a-2"].content.endswith("as in Lampleigh v Braithwait.")
    assert conv.current_leaf == "a-2" and conv.source_id == "6650a1b2-0001-8000-9000-00000000c001"
    assert conv.created_at.year == 2024 and turns["a-2"].created_at > turns["u-2"].created_at


def test_chatgpt_residue_and_left_out_content_are_reported_with_their_json_path():
    parsed = parse_chat_export(EXPORTS / "chatgpt_conversations.json")
    name = str(EXPORTS / "chatgpt_conversations.json")
    assert f'{name}: $[0].mapping.a-2.message: stripped 1 citation marker ("【12†source】")' in by_kind(parsed, "stripped")
    assert f'{name}: $[1].mapping.u-1.message: stripped the speaker label "User:"' in by_kind(parsed, "stripped")
    skipped = by_kind(parsed, "skipped")
    assert any(s.startswith(f"{name}: $[0]: ") and "1 tool calls" in s and "1 tool outputs" in s for s in skipped)
    assert any(s.startswith(f"{name}: $[1]: ") and "2 reasoning blocks" in s and "1 images and files" in s for s in skipped)
    offer = parsed.conversations[1]
    assert [t.content for t in offer.turns][0] == "Is this shop display an offer or an invitation to treat?"
    assert offer.turns[1].model == "o3" and not parsed.errors


def test_a_malformed_conversation_is_named_and_skipped_and_the_others_are_parsed():
    parsed = parse_chat_export(EXPORTS / "chatgpt_malformed.json")
    assert [str(p) for p in parsed.errors] == [
        f"{EXPORTS / 'chatgpt_malformed.json'}: $[1].mapping.u-2.message.author.role: "
        "expected the author's role (missing); conversation not imported"]
    assert [c.locator for c in parsed.conversations] == ["$[0]", "$[2]"]


def test_answer_split_around_a_tool_call_is_joined_into_one_turn(tmp_path):
    data = json.loads((EXPORTS / "chatgpt_conversations.json").read_text())
    conv = data[0]
    # The assistant said something before calling the browser: the two assistant messages are one turn.
    conv["mapping"]["a-2-call"]["message"]["recipient"] = "all"
    conv["mapping"]["a-2-call"]["message"]["content"] = {"content_type": "text", "parts": ["Let me check."]}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    parsed = parse_chat_export(path)
    turns = {t.id: t for t in parsed.conversations[0].turns}
    assert "a-2" not in turns and turns["a-2-call"].content.startswith("Let me check.\n\nGenerally no")
    assert [p.path for p in parsed.problems if p.kind == "merged"] == ["$[0].mapping.a-2.message"]


# --- Claude ----------------------------------------------------------------------------------


def test_claude_export_linear_and_branched_conversations():
    parsed = parse_chat_export(EXPORTS / "claude_conversations.json")
    assert parsed.format == "claude"
    linear, tree = parsed.conversations
    assert branch_ids(linear) == [["m-1", "m-2", "m-3", "m-4"]]
    assert [t.role for t in linear.turns] == ["user", "assistant", "user", "assistant"]
    assert linear.turns[0].content == "Explain promissory estoppel in two sentences."  # "Human:" stripped
    assert linear.turns[1].content == ("Promissory estoppel stops a promisor from going back on a promise the promisee "
                                       "relied on (Central London Property Trust v High Trees House).\n\n"
                                       "It is a shield, not a sword.")
    assert branch_ids(tree) == [["f-1", "f-2a"], ["f-1", "f-2b", "f-3", "f-3b"]] and tree.current_leaf == "f-3b"
    name = str(EXPORTS / "claude_conversations.json")
    assert f"{name}: $[2]: conversation has no messages" in by_kind(parsed, "skipped")
    assert any("1 attachments" in s and "1 thinking blocks" in s and "1 tool_use blocks" in s for s in by_kind(parsed, "skipped"))
    assert any(s.startswith(f"{name}: $[0].chat_messages[1]: stripped 1 'not supported on this device' placeholder")
               for s in by_kind(parsed, "stripped"))


def test_claude_single_conversation_json_is_accepted():
    parsed = parse_chat_export(EXPORTS / "claude_single.json")
    assert [c.locator for c in parsed.conversations] == ["$"] and len(parsed.conversations[0].turns) == 5


# --- Open WebUI ------------------------------------------------------------------------------


def test_openwebui_chat_export_keeps_answers_of_both_models_as_branches():
    parsed = parse_chat_export(EXPORTS / "openwebui_chat_export.json")
    assert parsed.format == "openwebui"
    conv = parsed.conversations[0]
    assert conv.title == "Postal rule" and conv.current_leaf == "ow-a2"
    assert branch_ids(conv) == [["ow-u1", "ow-a1", "ow-u2", "ow-a2"], ["ow-u1", "ow-a1b"]]
    turns = {t.id: t for t in conv.turns}
    assert (turns["ow-a1"].model, turns["ow-a1b"].model) == ("llama3.1:8b", "qwen2.5:7b")
    assert turns["ow-a1"].content == "Acceptance by post is complete when the letter is posted (Adams v Lindsell)."
    assert [p.path for p in parsed.problems] == ["$[0].chat.history.messages.ow-a1"]


def test_openwebui_all_chats_export_and_bare_chat_object(tmp_path):
    assert len(parse_chat_export(EXPORTS / "openwebui_all_chats.json").conversations) == 2
    chat = json.loads((EXPORTS / "openwebui_chat_export.json").read_text())[0]["chat"]
    bare = tmp_path / "chat.json"
    bare.write_text(json.dumps(chat))
    parsed = parse_chat_export(bare)
    assert parsed.format == "openwebui" and len(parsed.conversations[0].turns) == 5


def test_export_in_a_zip_or_an_unzipped_folder(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(EXPORTS / "chatgpt_conversations.json", "conversations.json")
        zf.writestr("user.json", "{}")
    parsed = parse_chat_export(archive)
    assert parsed.file == f"{archive}/conversations.json" and len(parsed.conversations) == 2
    folder = tmp_path / "unzipped"
    folder.mkdir()
    (folder / "conversations.json").write_bytes((EXPORTS / "claude_conversations.json").read_bytes())
    assert parse_chat_export(folder).format == "claude"


# --- files that cannot be read ---------------------------------------------------------------


@pytest.mark.parametrize("content, expected", [
    (b'[{"mapping": {', "$: not valid JSON at line 1 column 15"),
    (b"\xff\xfe[]", "$: not UTF-8 (byte 0)"),
    (b"42", "$: expected a list of conversations or one conversation object, found int"),
    (b'[{"messages": []}]', "$[0]: not a ChatGPT, Claude or Open WebUI conversation"),
    (b'["hello"]', "$[0]: expected conversation objects, found str"),
])
def test_unreadable_file_raises_one_error_naming_file_and_json_path(tmp_path, content, expected):
    path = tmp_path / "conversations.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        parse_chat_export(path)
    assert str(err.value).startswith(f"{path}: {expected}")


def test_missing_file_and_unknown_format_are_user_errors(tmp_path):
    with pytest.raises(InputError, match="missing.json: cannot read"):
        parse_chat_export(tmp_path / "missing.json")
    with pytest.raises(InputError, match="unknown chat-export format"):
        parse_chat_export(EXPORTS / "claude_single.json", fmt="gemini")


def test_forced_format_that_does_not_fit_reports_each_conversation(tmp_path):
    parsed = parse_chat_export(EXPORTS / "claude_conversations.json", fmt="chatgpt")
    assert [p.path for p in parsed.errors] == ["$[0].mapping", "$[1].mapping", "$[2].mapping"]
    assert not parsed.conversations


@pytest.mark.parametrize("mutate, path, reason", [
    (lambda c: c["chat_messages"][2].update(parent_message_uuid="nowhere"), "$[0].chat_messages[2]", "parent 'nowhere' is not a message"),
    (lambda c: c["chat_messages"][1].update(uuid="m-1"), "$[0].chat_messages[1]", "message id 'm-1' appears twice"),
    (lambda c: c["chat_messages"][0].update(sender="robot"), "$[0].chat_messages[0].sender", "unknown sender 'robot'"),
    (lambda c: [m.update(parent_message_uuid=p) for m, p in zip(c["chat_messages"], ["m-4", "m-1", "m-2", "m-3"])],
     "$[0].chat_messages[0]", "the parent links form a cycle"),
])
def test_broken_trees_are_named_by_json_path(tmp_path, mutate, path, reason):
    conv = json.loads((EXPORTS / "claude_conversations.json").read_text())[0]
    mutate(conv)
    file = tmp_path / "c.json"
    file.write_text(json.dumps([conv]))
    parsed = parse_chat_export(file)
    assert not parsed.conversations
    [error] = parsed.errors
    assert error.path == path and reason in error.reason and str(error).startswith(f"{file}: {path}: ")


# --- properties ------------------------------------------------------------------------------

_words = st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8)
_content = st.lists(_words, min_size=1, max_size=6).map(" ".join)


@st.composite
def trees(draw):
    """A conversation tree: (id, parent, role, content) with alternating roles, parents listed first."""
    n = draw(st.integers(1, 12))
    nodes = []
    for i in range(n):
        parent = draw(st.sampled_from([None] + [node[0] for node in nodes]))
        parent_role = next((node[2] for node in nodes if node[0] == parent), "assistant")
        role = "user" if parent_role == "assistant" else "assistant"
        nodes.append((f"n{i}", parent, role, draw(_content)))
    return nodes


def as_chatgpt(nodes):
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
    for nid, parent, role, text in nodes:
        mapping[nid] = {"id": nid, "parent": parent or "root", "children": [], "message": {
            "id": nid, "author": {"role": role}, "create_time": 1.7e9, "recipient": "all",
            "content": {"content_type": "text", "parts": [text]}, "metadata": {}}}
        mapping[parent or "root"]["children"].append(nid)
    return {"title": "t", "id": "c", "mapping": mapping, "current_node": nodes[-1][0]}


def as_claude(nodes):
    return {"uuid": "c", "name": "t", "chat_messages": [
        {"uuid": nid, "parent_message_uuid": parent or "00000000-0000-4000-8000-000000000000",
         "sender": "human" if role == "user" else "assistant", "text": text, "content": [{"type": "text", "text": text}]}
        for nid, parent, role, text in nodes]}


def as_openwebui(nodes):
    messages = {nid: {"id": nid, "parentId": parent, "childrenIds": [c[0] for c in nodes if c[1] == nid],
                      "role": role, "content": text, "timestamp": 1717500000} for nid, parent, role, text in nodes}
    return {"id": "c", "title": "t", "chat": {"history": {"messages": messages, "currentId": nodes[-1][0]}}}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=trees(), fmt=st.sampled_from(["chatgpt", "claude", "openwebui"]))
def test_every_turn_and_branch_survives_the_round_trip(tmp_path, nodes, fmt):
    encode = {"chatgpt": as_chatgpt, "claude": as_claude, "openwebui": as_openwebui}[fmt]
    path = tmp_path / f"{fmt}.json"
    path.write_text(json.dumps([encode(nodes)]))
    parsed = parse_chat_export(path)
    assert parsed.format == fmt and not parsed.problems
    [conv] = parsed.conversations
    assert sorted((t.id, t.parent_id, t.role, t.content) for t in conv.turns) == sorted(nodes)
    ids = [t.id for t in conv.turns]
    assert all(t.parent_id is None or ids.index(t.parent_id) < ids.index(t.id) for t in conv.turns)  # parents first
    leaves = {n[0] for n in nodes} - {n[1] for n in nodes}
    assert {b[-1].id for b in conv.branches()} == leaves


def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=6)


def _mutations(doc):
    """Every (container, key) in a JSON document, so one value can be replaced or removed."""
    out = []
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            out.append((node, key))
            stack.append(value)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(["chatgpt_conversations.json", "claude_conversations.json", "openwebui_all_chats.json"]),
       pick=st.integers(0, 10_000), junk=_json_values(), delete=st.booleans())
def test_any_corruption_is_an_error_or_a_report_and_no_conversation_vanishes(tmp_path, source, pick, junk, delete):
    doc = json.loads((EXPORTS / source).read_text())
    sites = _mutations(doc)
    container, key = sites[pick % len(sites)]
    if delete and isinstance(container, dict):
        del container[key]
    else:
        container[key] = copy.deepcopy(junk)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc))
    try:
        parsed = parse_chat_export(path)
    except ExpertuneError as err:
        assert str(err).startswith(f"{path}: ")
        return
    items = doc if isinstance(doc, list) else [doc]
    located = {c.locator for c in parsed.conversations}
    located |= {p.path.split(".")[0] for p in parsed.problems if p.kind == "error" or p.reason == "conversation has no messages"}
    assert located == ({"$"} if not isinstance(doc, list) else {f"$[{i}]" for i in range(len(items))})
    assert all(isinstance(p, ExportProblem) and str(p).startswith(f"{path}: $") for p in parsed.problems)
