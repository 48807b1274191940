"""The text `/metrics` answers: every process's counters and histograms, plus the scrape-time gauges."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.observability.instruments import REGISTRY, multiprocess_dir


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of `collectors` (the scrape-time gauges), kept by the caller for its scrapes."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def render(gauges: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type. In multiprocess mode the counters are summed
    from every process's files (a fresh collector per scrape, as prometheus-client requires); otherwise
    they are this process's."""
    directory = multiprocess_dir()
    if directory is not None:
        counters = CollectorRegistry()
        MultiProcessCollector(counters, path=directory)
    else:
        counters = REGISTRY
    # The text format allows families one after another: the two registries never share a name.
    return generate_latest(counters) + generate_latest(gauges), CONTENT_TYPE_LATEST
