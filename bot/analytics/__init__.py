"""Collection analytics: the metrics of docs/metrics.md, defined once for the dashboard, experiments, reports.

- `scope`: what a question is about (`Period`, `Filters`, `Windows`, `Scope`) and the prices (`Prices`);
- `sql`: portable SQL helpers (seconds since the epoch on PostgreSQL and SQLite, "within N seconds after");
- `contacts`: the reminders a scope counts (sent outbox rows), the unit most metrics divide by;
- `reactions`: per-contact flags (delivered, read, replied, page opened, copied, promised, agreed, paid,
  opted out, complained, handed off);
- `outcomes`: what the contacts led to, counted once each (promises kept, agreements broken, amount
  recovered with last-touch attribution);
- `costs`: SMS segments and WhatsApp conversations of the contacts, at the configured prices;
- `portfolio`: cure and roll rates by days-past-due bucket;
- `results`: the typed results (`Rate`, `CostPerReal`, `CollectionMetrics`, `BucketRates`, `Slice`);
- `metrics`: the entry points, `collection_metrics` and `breakdown` (one scope's metrics per value of a
  dimension).
"""

from bot.analytics.metrics import Dimension, breakdown, collection_metrics
from bot.analytics.portfolio import bucket_rates
from bot.analytics.results import NO_DATA, BucketRates, CollectionMetrics, CostPerReal, Costs, Rate, Slice
from bot.analytics.scope import Filters, Period, Prices, Scope, Windows

__all__ = [
    "NO_DATA",
    "BucketRates",
    "CollectionMetrics",
    "CostPerReal",
    "Costs",
    "Dimension",
    "Filters",
    "Period",
    "Prices",
    "Rate",
    "Scope",
    "Slice",
    "Windows",
    "breakdown",
    "bucket_rates",
    "collection_metrics",
]
