"""Production observability (issue 18 §4): what `/metrics` exposes to Prometheus and how logs are written.

`instruments` (the counters and histograms every process records into, and prometheus-client's
multiprocess mode that adds them up across processes), `gauges` (values read from the database and Redis
when Prometheus scrapes: queue depths, the reminder outbox's backlog; cached and read in the background
so a scrape never waits on a hung dependency), `exposition` (the text `/metrics` answers), `json_logs`
(one JSON object per log line, used in production). See docs/observability.md.
"""
