"""Authoring: the expert directs discussions with an LLM and turns the good answers into data.

sessions.py  the turn tree in the store (turns, head, edits as events with diffs)
backends.py  which model writes drafts (builtin/local or an OpenAI-compatible endpoint)
drafting.py  the prompts for drafts, regenerations, directed revisions, takes and questions
dataset.py   accepting, un-accepting and rejecting drafts into prompt groups with provenance
imports.py   chat exports (ChatGPT, Claude, Open WebUI) into sessions
proposals.py LLM-assisted curation, always as proposals the expert decides on
terminal.py  the terminal studio (`expertune author`)
templates.py structure templates (IRAC, ...) and the checker; documents.py the documents index
             (BM25) and passages; exports.py parsing of chat exports
"""
