"""Prometheus metrics of one server (its own registry, so several servers in one process, as in
tests, do not mix): requests, errors, queue depth, latency, tokens/s, adapter versions served."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300)


class Metrics:
    def __init__(self, engine):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("expertune_requests", "Chat completion requests, by model and HTTP status",
                                ["model", "status"], registry=r)
        self.errors = Counter("expertune_errors", "Requests answered with an error, by OpenAI error type",
                              ["type"], registry=r)
        self.latency = Histogram("expertune_request_latency_seconds", "Arrival to last token", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.first_token = Histogram("expertune_time_to_first_token_seconds", "Arrival to first token", ["model"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("expertune_generated_tokens", "Tokens generated", registry=r)
        Gauge("expertune_queue_depth", "Rows waiting for a place in the batch", registry=r).set_function(engine.queue_depth)
        Gauge("expertune_active_rows", "Rows being decoded", registry=r).set_function(engine.active)
        Gauge("expertune_tokens_per_second", "Tokens generated per second over the last 10 s",
              registry=r).set_function(engine.tokens_per_second)
        self.adapter_version = Gauge("expertune_adapter_version", "Version served for an adapter name", ["name"],
                                     registry=r)

    def served(self, variant) -> None:
        if variant.name is not None and variant.version is not None:
            self.adapter_version.labels(variant.name).set(variant.version)
