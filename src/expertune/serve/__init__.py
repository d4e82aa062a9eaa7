"""Serving: an OpenAI-compatible HTTP API over a base model and its adapters, following the registry.

models.py loads the served variants (base + adapter versions sharing the base's weights) and follows
the registry's current versions; engine.py batches every request's rows on one decoding thread;
api.py is the FastAPI app (OpenAI protocol, auth, limits, metrics); server.py starts it;
vllm.py and export.py hand a model to other servers (vLLM, TGI, llama.cpp, Ollama).
"""
