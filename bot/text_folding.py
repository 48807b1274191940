"""Accent folding: "Não, parcelação" -> "Nao, parcelacao", so matching ignores how a debtor typed accents."""

from __future__ import annotations

import unicodedata


def fold_accents(text: str) -> str:
    """`text` without accents (compatibility decomposition, combining marks dropped); case is kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
