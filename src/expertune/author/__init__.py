"""Authoring: sessions of directed discussions with an LLM, structure templates, the documents index and chat-export import."""
