"""The decoding engine: one thread runs every forward pass, batching all requests continuously.

Requests put their rows (one per choice, `n`) on a bounded queue; between two decoding steps the
engine admits waiting rows into the running batch of their model variant (llm/decoding.py's
StepDecoder), up to `max_batch` live rows in all, and advances every variant's batch by one token.
A row that stops, reaches its limit or is cancelled (client gone, timeout) leaves the batch at the
next step. A full queue refuses at once (the API answers 429 with Retry-After) rather than letting
latency grow without bound.

One thread, because on a CPU the forward passes compete for the same cores: batching rows into one
pass is what raises throughput (a step costs a fixed ~30 ms plus ~4 ms per row on SmolLM2-135M).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

from expertune.llm.decoding import DecodeRow, StepDecoder

log = logging.getLogger("expertune.serve")


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(eq=False)
class _Waiting:
    variant: object
    rows: list[DecodeRow]


def _by_variant(admitted: list[_Waiting]) -> list[tuple[object, list[_Waiting]]]:
    """The admitted requests grouped by model variant, in order of first arrival."""
    groups: dict[int, tuple[object, list[_Waiting]]] = {}
    for waiting in admitted:
        groups.setdefault(id(waiting.variant), (waiting.variant, []))[1].append(waiting)
    return list(groups.values())


class Engine:
    def __init__(self, *, max_batch: int = 32, max_queue: int = 64, on_tokens=None):
        self.max_batch = max_batch
        self.max_queue = max_queue  # rows waiting for a place in the batch
        self.on_tokens = on_tokens  # called with the number of tokens each step produced
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._decoders: dict[int, tuple[object, StepDecoder]] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._recent: collections.deque[tuple[float, int]] = collections.deque()  # (time, tokens) per step

    # -- what the API sees ----------------------------------------------------------------------
    def submit(self, variant, rows: list[DecodeRow]) -> None:
        """Queue the rows of one request (all or none); QueueFull when there is no room."""
        with self._cond:
            waiting = self.queue_depth()
            if waiting + len(rows) > self.max_queue:
                raise QueueFull(retry_after=max(1, round(waiting / max(1, self.max_batch))))
            self._waiting.append(_Waiting(variant, rows))
            self._cond.notify()

    def queue_depth(self) -> int:
        return sum(len(w.rows) for w in self._waiting)

    def active(self) -> int:
        return sum(len(d) for _, d in self._decoders.values())

    def tokens_per_second(self, window: float = 10.0) -> float:
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._recent) if now - t <= window]
        return sum(n for _, n in recent) / window if recent else 0.0

    # -- the decoding thread --------------------------------------------------------------------
    def start(self) -> "Engine":
        self._thread = threading.Thread(target=self._run, name="expertune-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        import torch

        with torch.inference_mode():
            while True:
                with self._cond:
                    while not self._stopped and not self._waiting and not self._decoders:
                        self._cond.wait()
                    if self._stopped:
                        break
                    admitted = self._admit()
                for variant, requests in _by_variant(admitted):
                    self._add(variant, requests)
                self._step_all()
        for _, decoder in self._decoders.values():
            decoder.fail("the server is shutting down")

    def _admit(self) -> list[_Waiting]:
        """Waiting requests (oldest first) that fit in the batch now; cancelled ones end here."""
        room = self.max_batch - self.active()
        admitted = []
        while self._waiting:
            head = self._waiting[0]
            if all(r.cancelled for r in head.rows):
                self._waiting.popleft()
                for r in head.rows:
                    r.finish("cancelled")
                continue
            if len(head.rows) > room:
                break
            admitted.append(self._waiting.popleft())
            room -= len(head.rows)
        return admitted

    def _add(self, variant, requests: list[_Waiting]) -> None:
        """Prefill the rows of requests admitted together in one go (one cache copy, prompts of
        similar length in one pass); if that fails, each request alone, so only a request that
        cannot be served (e.g. too long for memory) fails."""
        key = id(variant)
        if key not in self._decoders:
            self._decoders[key] = (variant, StepDecoder(variant.model, pad_id=variant.pad_id))
        decoder = self._decoders[key][1]
        try:
            decoder.add([r for w in requests for r in w.rows])
            return
        except Exception as err:
            if len(requests) == 1:
                log.exception("prefill failed")
                for r in requests[0].rows:
                    r.finish("error", f"{type(err).__name__}: {err}")
                return
        for waiting in requests:
            self._add(variant, [waiting])

    def _step_all(self) -> None:
        for key, (variant, decoder) in list(self._decoders.items()):
            before = sum(len(r.tokens) for r in decoder.rows)
            live = list(decoder.rows)
            try:
                decoder.step()
            except Exception as err:
                log.exception("decoding step failed")
                decoder.fail(f"{type(err).__name__}: {err}")
            produced = sum(len(r.tokens) for r in live) - before
            if produced:
                self._recent.append((time.monotonic(), produced))
                if self.on_tokens:
                    self.on_tokens(produced)
            if not len(decoder):
                del self._decoders[key]  # drops the cache and the variant reference
        while self._recent and time.monotonic() - self._recent[0][0] > 60:
            self._recent.popleft()
