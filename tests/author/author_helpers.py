"""A scripted OpenAI-compatible *streaming* server on 127.0.0.1 for the authoring tests.

llm.testing.FakeOpenAIServer answers with whole JSON bodies; authoring streams, so this server
answers `stream: true` requests with Server-Sent Events, one chunk per scripted piece, optionally
pausing between chunks (so a client can cancel mid-stream). The handler sees every request body
and returns either a list of text pieces or (status, headers, raw body) for errors such as 429.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = list[str] | tuple[int, dict[str, str], bytes]


def chunk(content: str | None, finish_reason: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class StreamingServer:
    def __init__(self, handler: Callable[[dict[str, Any]], Reply], *, pause: float = 0.0):
        self.handler = handler
        self.pause = pause  # seconds between chunks
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.disconnects = 0  # streams the client closed before the end
        self.streams_ended = threading.Semaphore(0)  # released when a stream ends, served whole or cut
        self.lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                with server.lock:
                    server.requests.append(body)
                reply = server.handler(body)
                if isinstance(reply, tuple):
                    status, headers, raw = reply
                    with server.lock:
                        server.statuses.append(status)
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                with server.lock:
                    server.statuses.append(200)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for piece in reply:
                        self.wfile.write(chunk(piece))
                        self.wfile.flush()
                        if server.pause:
                            time.sleep(server.pause)
                    self.wfile.write(chunk(None, "stop") + b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with server.lock:
                        server.disconnects += 1
                finally:
                    server.streams_ended.release()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "StreamingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def words(text: str) -> list[str]:
    """A reply split into streamed pieces, one word each (spaces kept)."""
    parts = text.split(" ")
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


def last_user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def system_text(body: dict[str, Any]) -> str:
    return next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
