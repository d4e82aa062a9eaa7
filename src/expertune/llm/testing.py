"""A tiny OpenAI-compatible HTTP server (stdlib only) for tests and offline trials.

It serves POST /v1/chat/completions on 127.0.0.1 from a thread and hands every request body to a
handler that decides the reply, so tests can script answers, inject 429s or malformed bodies and
count requests, without any real (paid) API.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

# handler(request) -> a reply: a str (the assistant message content), or a tuple
# (status, headers, raw_body) for full control (errors, malformed bodies).
Reply = str | tuple[int, dict[str, str], bytes]
Handler = Callable[[dict[str, Any]], Reply]


def completion(content: str, *, model: str = "fake", finish_reason: str = "stop",
               prompt_tokens: int = 100, completion_tokens: int = 20) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class _Server(ThreadingHTTPServer):
    # http.server's listen backlog of 5 drops connections when dozens of requests open at once,
    # which is what concurrent clients (and the concurrency tests) do.
    request_queue_size = 1024


class FakeOpenAIServer:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # per request, names lower-cased
        self.lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {}, b'{"error": {"message": "not found"}}')
                    return
                with server.lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    reply = server.handler(body)
                except Exception as err:  # noqa: BLE001 - a broken handler is a 500, as a real server would
                    reply = (500, {}, json.dumps({"error": {"message": str(err)}}).encode())
                if isinstance(reply, str):
                    reply = (200, {}, json.dumps(completion(reply, model=body.get("model", "fake"))).encode())
                self._send(*reply)

            def _send(self, status: int, headers: dict[str, str], raw: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", headers.pop("content-type", "application/json"))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
