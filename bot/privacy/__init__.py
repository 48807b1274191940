"""LGPD: the data subject's rights (export, erasure) and retention. See docs/privacy.md.

* `subjects`: finding a person's records (by CPF, also once erased) and the keyed hashes erasure leaves.
* `export`: everything held on a person, as JSON-ready data; `summary` renders it for the person (pt-BR).
* `erasure`: anonymising a person while keeping what the creditor must keep.
* `retention`: the daily job anonymising old message bodies and unknown numbers.
"""
