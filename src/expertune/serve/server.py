"""Starting the server: the key policy first (before any model loads), then the models, the
decoding thread, the registry follower and uvicorn. `Server.start()` runs it on a background
thread (tests, benchmarks); `Server.run()` in the foreground (the CLI)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from expertune.errors import ConfigError
from expertune.listen import listening_socket
from expertune.serve.config import ServeConfig, api_key

DEFAULT_BASE = "builtin:smollm2-135m-instruct"


def default_base(adapters: list[str], ws) -> str:
    """The base the adapters were trained on (they must agree), else the workspace's base model,
    else the embedded default."""
    from expertune.llm.adapters import read_adapter

    bases = set()
    for ref in adapters:
        if Path(ref).expanduser().is_dir():
            bases.add(read_adapter(ref).base_model)
        elif ws is not None:
            from expertune.store.adapters import find_adapter

            bases.add(find_adapter(ws, ref.partition("@")[0]).base_model)
    bases.discard(None)
    if len(bases) > 1:
        raise ConfigError(f"the adapters were trained on different bases ({', '.join(sorted(bases))}); one server "
                          "serves one base: start one server per base, or pick one with --base")
    if bases:
        return bases.pop()
    return ws.settings.base_model if ws is not None else DEFAULT_BASE


class Server:
    def __init__(self, config: ServeConfig, *, base: str | None = None, adapters: list[str] = (), ws=None):
        self.config = config
        self.key = api_key(config)  # refuses a non-loopback bind without a key, before loading anything
        self.base = base or default_base(list(adapters), ws)
        self.adapters = list(adapters)
        self.ws = ws
        self.app = None
        self._uvicorn = None
        self._thread: threading.Thread | None = None
        self._socket = None

    def bind(self) -> "Server":
        """Take the port now, so a busy one fails before minutes of model loading."""
        if self._socket is None:
            self._socket = listening_socket(self.config.host, self.config.port)
        return self

    def load(self) -> "Server":
        import expertune.llm  # noqa: F401 -- OpenMP threads' waiting, set before torch loads
        from expertune.serve.api import create_app
        from expertune.serve.engine import Engine
        from expertune.serve.metrics import Metrics
        from expertune.serve.models import ModelPool

        self.engine = Engine(max_batch=self.config.max_batch, max_queue=self.config.max_queue)
        self.metrics = Metrics(self.engine)
        self.engine.on_tokens = self.metrics.tokens.inc
        self.pool = ModelPool(self.base, self.adapters, self.ws, poll_interval=self.config.poll_interval,
                              on_change=self.metrics.served).load()
        for _, variant in self.pool.served():
            self.metrics.served(variant)
        self.engine.start()
        self.pool.start()
        self.app = create_app(self.pool, self.engine, self.config, self.metrics, self.key)
        return self

    def _uvicorn_server(self, log_level: str):
        import uvicorn

        config = uvicorn.Config(self.app, host=self.config.host, port=self.config.port, log_level=log_level,
                                timeout_graceful_shutdown=5)
        return uvicorn.Server(config)

    def run(self, log_level: str = "info") -> None:
        self.bind()
        if self.app is None:
            self.load()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            self._uvicorn_server(log_level).run(sockets=[self._socket])
        finally:
            self.close()

    def start(self, log_level: str = "warning") -> str:
        """Serve on a background thread; returns the base URL (port 0 picks a free port)."""
        import time

        if self.app is None:
            self.load()
        self._uvicorn = self._uvicorn_server(log_level)
        self._thread = threading.Thread(target=self._uvicorn.run, name="expertune-http", daemon=True)
        self._thread.start()
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise ConfigError(f"the server could not start on {self.config.host}:{self.config.port}")
            time.sleep(0.05)
        port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.config.host}:{port}"

    def close(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._thread.join(timeout=30)
            self._uvicorn = None
        if self.app is not None:
            self.pool.close()
            self.engine.stop()
