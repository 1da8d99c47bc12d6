"""Prometheus metrics of ``newsingest run`` (``--metrics-port``): per-source counters.

Counters move once per finished run, from the run's report, so they agree with the
``runs`` table and the run log line. Exposed on ``http://HOST:PORT/metrics``:

* ``newsingest_runs_total{source,status}``
* ``newsingest_urls_found_total``, ``..._new_total``, ``newsingest_pages_fetched_total``,
  ``newsingest_documents_stored_total``, ``..._updated_total`` (``{source}``)
* ``newsingest_urls_failed_total{source,reason}``, ``newsingest_urls_skipped_total{...}``
* ``newsingest_run_duration_seconds{source}`` (histogram)
* ``newsingest_last_run_timestamp_seconds{source}``
"""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from newsingest.ingest import RunReport

logger = logging.getLogger(__name__)

_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class RunMetrics:
    """The counters of every run, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("newsingest_runs", "Runs by outcome.", ["source", "status"], registry=r)
        self.found = Counter(
            "newsingest_urls_found", "Article URLs the source listed.", ["source"], registry=r
        )
        self.new = Counter(
            "newsingest_urls_new", "Listed URLs not stored yet.", ["source"], registry=r
        )
        self.fetched = Counter(
            "newsingest_pages_fetched", "Pages downloaded.", ["source"], registry=r
        )
        self.stored = Counter(
            "newsingest_documents_stored", "New documents written.", ["source"], registry=r
        )
        self.updated = Counter(
            "newsingest_documents_updated", "Documents whose text changed.", ["source"], registry=r
        )
        self.failed = Counter(
            "newsingest_urls_failed",
            "URLs (and feed polls) that failed, by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.skipped = Counter(
            "newsingest_urls_skipped",
            "URLs deliberately not stored (robots.txt, not HTML), by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.duration = Histogram(
            "newsingest_run_duration_seconds",
            "How long runs take.",
            ["source"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.last_run = Gauge(
            "newsingest_last_run_timestamp_seconds",
            "When the source's last run started (Unix time).",
            ["source"],
            registry=r,
        )

    def observe(self, report: RunReport) -> None:
        """Count one finished run."""
        source, c = report.source, report.counts
        self.runs.labels(source, report.status).inc()
        self.found.labels(source).inc(c.found)
        self.new.labels(source).inc(c.new)
        self.fetched.labels(source).inc(c.fetched)
        self.stored.labels(source).inc(c.stored)
        self.updated.labels(source).inc(c.updated)
        for reason, n in c.failed.items():
            self.failed.labels(source, reason).inc(n)
        for reason, n in c.skipped.items():
            self.skipped.labels(source, reason).inc(n)
        self.duration.labels(source).observe(report.seconds)
        self.last_run.labels(source).set(report.started_at.timestamp())


def serve_metrics(metrics: RunMetrics, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; ``shutdown()`` stops it."""
    server, _ = start_http_server(port, addr=host, registry=metrics.registry)
    logger.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server
