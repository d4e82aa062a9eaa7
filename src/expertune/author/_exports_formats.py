"""One reader per chat-export format, each turning one conversation object into an
`ImportedConversation` through the shared tree builder and residue cleaner of `_exports_tree.py`.

ChatGPT (`conversations.json` of the data export): a list of conversations, each with a `mapping`
of nodes `{id, message, parent, children}`; a message has `author.role`, `content.content_type`
and `content.parts`, `metadata.model_slug`, `create_time` (epoch seconds). `current_node` is the
branch the UI showed. Tool calls (`recipient` other than "all"), tool output, reasoning
(`thoughts`, `reasoning_recap`), custom instructions and hidden system messages are not turns.

Claude (`conversations.json` of the data export): a list of conversations `{uuid, name, created_at,
chat_messages}`, each message `{uuid, sender: human|assistant, text, content: [blocks], created_at}`,
in order. Newer exports give `parent_message_uuid` (the root's parent is the all-zero UUID), which
carries the branches; without it the messages form one chain. Only `text` blocks are turn text.

Open WebUI ("Export chat (.json)" and "Export all chats"): a list of `{id, title, chat: {history:
{messages: {id: {id, parentId, childrenIds, role, content, model, timestamp}}, currentId}}}`; a
bare chat object is accepted too.
"""

from __future__ import annotations

from typing import Any, Callable

from expertune.author._exports_tree import (
    BadExport, ImportedConversation, Notes, RawMessage, build_turns, clean_text, expect, key_path, timestamp,
)
from expertune.errors import InputError


def detect(name: str, items: list, single: bool) -> str:
    """The format of an export from its first conversation object (`single`: the file is that object)."""
    first = next((x for x in items if isinstance(x, dict)), None)
    if first is None:
        if not items:
            return "chatgpt"  # an empty export: nothing to read, any reader will do
        raise InputError(f"{name}: $[0]: expected conversation objects, found {type(items[0]).__name__}")
    if "mapping" in first:
        return "chatgpt"
    if "chat_messages" in first:
        return "claude"
    if "history" in first or isinstance(first.get("chat"), dict):
        return "openwebui"
    where = "$" if single else f"$[{items.index(first)}]"
    raise InputError(
        f"{name}: {where}: not a ChatGPT, Claude or Open WebUI conversation (none of the keys 'mapping', "
        f"'chat_messages', 'chat'/'history'); export the chats again from the app, or pass --format")


# --- ChatGPT ---------------------------------------------------------------------------------

_CHATGPT_NOT_TURNS = {"thoughts": "reasoning blocks", "reasoning_recap": "reasoning blocks",
                      "user_editable_context": "custom instructions", "execution_output": "tool outputs",
                      "tether_browsing_display": "browsing results", "tether_quote": "browsing results",
                      "system_error": "tool errors", "sonic_webpage": "browsing results"}


def read_chatgpt(conv: Any, loc: str, notes: Notes) -> ImportedConversation:
    conv = expect(conv, dict, loc, "a conversation object")
    mapping = expect(conv.get("mapping"), dict, f"{loc}.mapping", "an object of message nodes")
    default_model = _opt_str(conv.get("default_model_slug"))
    messages = []
    for node_id, node in mapping.items():
        path = key_path(f"{loc}.mapping", node_id)
        node = expect(node, dict, path, "a message node")
        parent = node.get("parent")
        if parent is not None:
            expect(parent, str, f"{path}.parent", "the parent node id")
        msg = node.get("message")
        role, content, model = _chatgpt_message(msg, f"{path}.message", notes, default_model) if msg is not None else (None, "", None)
        messages.append(RawMessage(id=node_id, parent=parent, role=role, content=content,
                                   path=f"{path}.message", model=model,
                                   created_at=timestamp(msg.get("create_time")) if isinstance(msg, dict) else None))
    return ImportedConversation(
        source="chatgpt", source_id=str(conv.get("conversation_id") or conv.get("id") or loc),
        title=str(conv.get("title") or ""), created_at=timestamp(conv.get("create_time")),
        turns=build_turns(messages, loc, notes), current_leaf=_opt_str(conv.get("current_node")), locator=loc)


def _chatgpt_message(msg: Any, path: str, notes: Notes, default_model: str | None):
    msg = expect(msg, dict, path, "a message object")
    author = expect(msg.get("author"), dict, f"{path}.author", "an author object")
    role = expect(author.get("role"), str, f"{path}.author.role", "the author's role")
    content = expect(msg.get("content"), dict, f"{path}.content", "a content object")
    ctype = expect(content.get("content_type", "text"), str, f"{path}.content.content_type", "the content type")
    metadata = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    if role == "tool":
        notes.skip("tool outputs")
        return None, "", None
    if role not in ("system", "user", "assistant"):
        raise BadExport(f"{path}.author.role", f"unknown role {role!r} (expected system, user, assistant or tool)")
    if ctype in _CHATGPT_NOT_TURNS:
        notes.skip(_CHATGPT_NOT_TURNS[ctype])
        return None, "", None
    if msg.get("recipient", "all") != "all":  # a call to a tool (browser, python, dalle...), not an answer
        notes.skip("tool calls")
        return None, "", None
    if ctype not in ("text", "multimodal_text", "code"):
        notes.skip(f"messages of type {ctype!r}")
        return None, "", None
    if ctype == "code":
        text = expect(content.get("text"), str, f"{path}.content.text", "the code text")
    else:
        parts = expect(content.get("parts"), list, f"{path}.content.parts", "a list of parts")
        strings = [p for p in parts if isinstance(p, str)]
        if len(strings) < len(parts):
            notes.skip("images and files")
        text = "\n".join(strings)
    if role == "system" and (metadata.get("is_visually_hidden_from_conversation") or not text.strip()):
        return None, "", None  # ChatGPT's own hidden system message: not the expert's
    text = clean_text(text, path, notes)
    if not text:
        notes.skip(f"{role} messages without text")
        return None, "", None
    model = (_opt_str(metadata.get("model_slug")) or default_model) if role == "assistant" else None
    return role, text, model


# --- Claude ----------------------------------------------------------------------------------

_CLAUDE_ROOT = "00000000-0000-4000-8000-000000000000"
_CLAUDE_ROLES = {"human": "user", "user": "user", "assistant": "assistant"}  # "user": some third-party exporters


def read_claude(conv: Any, loc: str, notes: Notes) -> ImportedConversation:
    conv = expect(conv, dict, loc, "a conversation object")
    items = expect(conv.get("chat_messages"), list, f"{loc}.chat_messages", "a list of messages")
    tree = any(isinstance(m, dict) and "parent_message_uuid" in m for m in items)
    messages, previous = [], None
    for i, msg in enumerate(items):
        path = f"{loc}.chat_messages[{i}]"
        msg = expect(msg, dict, path, "a message object")
        mid = str(expect(msg.get("uuid"), str, f"{path}.uuid", "the message uuid"))
        sender = expect(msg.get("sender"), str, f"{path}.sender", "the sender")
        if sender not in _CLAUDE_ROLES:
            raise BadExport(f"{path}.sender", f"unknown sender {sender!r} (expected human or assistant)")
        parent = msg.get("parent_message_uuid") if tree else previous
        if parent is not None:
            expect(parent, str, f"{path}.parent_message_uuid", "the parent message uuid")
        if parent == _CLAUDE_ROOT:
            parent = None
        text = _claude_text(msg, path, notes)
        for what in ("attachments", "files"):
            if isinstance(msg.get(what), list) and msg[what]:
                notes.skip(what)
        text = clean_text(text, path, notes)
        role = _CLAUDE_ROLES[sender] if text else None
        if not text:
            notes.skip(f"{_CLAUDE_ROLES[sender]} messages without text")
        messages.append(RawMessage(id=mid, parent=parent, role=role, content=text, path=path,
                                   created_at=timestamp(msg.get("created_at"))))
        previous = mid
    return ImportedConversation(
        source="claude", source_id=str(conv.get("uuid") or loc), title=str(conv.get("name") or ""),
        created_at=timestamp(conv.get("created_at")), turns=build_turns(messages, loc, notes),
        current_leaf=_opt_str(conv.get("current_leaf_message_uuid")), locator=loc)


def _claude_text(msg: dict, path: str, notes: Notes) -> str:
    blocks = msg.get("content")
    if not isinstance(blocks, list) or not blocks:
        return expect(msg.get("text", ""), str, f"{path}.text", "the message text")
    texts = []
    for j, block in enumerate(blocks):
        block = expect(block, dict, f"{path}.content[{j}]", "a content block")
        if block.get("type") == "text":
            texts.append(expect(block.get("text"), str, f"{path}.content[{j}].text", "the block text"))
        else:
            notes.skip(f"{block.get('type', 'untyped')} blocks")
    return "\n\n".join(t for t in texts if t.strip())


# --- Open WebUI ------------------------------------------------------------------------------


def read_openwebui(item: Any, loc: str, notes: Notes) -> ImportedConversation:
    item = expect(item, dict, loc, "a chat object")
    chat, chat_loc = (item["chat"], f"{loc}.chat") if "chat" in item else (item, loc)
    chat = expect(chat, dict, chat_loc, "the chat object")
    history = chat.get("history")
    if history is None and isinstance(chat.get("messages"), list):  # no tree: the messages in order
        base, current, linear = f"{chat_loc}.messages", None, True
        entries = [(f"{base}[{n}]", str(m.get("id") or n) if isinstance(m, dict) else str(n), m)
                   for n, m in enumerate(chat["messages"])]
    else:
        history = expect(history, dict, f"{chat_loc}.history", "the message history")
        raw = expect(history.get("messages"), dict, f"{chat_loc}.history.messages", "an object of messages")
        base, current, linear = f"{chat_loc}.history.messages", history.get("currentId"), False
        entries = [(key_path(base, mid), mid, m) for mid, m in raw.items()]
    messages, previous = [], None
    for path, mid, msg in entries:
        msg = expect(msg, dict, path, "a message object")
        role = expect(msg.get("role"), str, f"{path}.role", "the role")
        if role not in ("system", "user", "assistant"):
            raise BadExport(f"{path}.role", f"unknown role {role!r} (expected system, user or assistant)")
        content = msg.get("content", "")
        if isinstance(content, list):  # multimodal: text parts and images
            strings = [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
            if len(strings) < len(content):
                notes.skip("images and files")
            content = "\n".join(strings)
        content = expect(content, str, f"{path}.content", "the message text")
        if msg.get("files"):
            notes.skip("files")
        parent = msg.get("parentId") if "parentId" in msg or not linear else previous
        if parent is not None:
            expect(parent, str, f"{path}.parentId", "the parent message id")
        text = clean_text(content, path, notes)
        if not text:
            notes.skip(f"{role} messages without text")
        messages.append(RawMessage(id=mid, parent=parent, role=role if text else None,
                                   content=text, path=path, model=_opt_str(msg.get("model")) if role == "assistant" else None,
                                   created_at=timestamp(msg.get("timestamp"))))
        previous = mid
    return ImportedConversation(
        source="openwebui", source_id=str(item.get("id") or chat.get("id") or loc),
        title=str(item.get("title") or chat.get("title") or ""),
        created_at=timestamp(item.get("created_at") or chat.get("timestamp")),
        turns=build_turns(messages, loc, notes), current_leaf=_opt_str(current), locator=loc)


def _opt_str(value: Any) -> str | None:
    """An optional label (model name, current branch): kept when it is a non-empty string."""
    return value if isinstance(value, str) and value else None


READERS: dict[str, Callable[[Any, str, Notes], ImportedConversation]] = {
    "chatgpt": read_chatgpt, "claude": read_claude, "openwebui": read_openwebui}
