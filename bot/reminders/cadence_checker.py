"""Validation state of one cadence document: `CadenceError` and the checker the loader reports through.

`_Checker` knows where an error comes from (the file's label) and gathers the warnings; its helpers check
the shapes every field shares (a mapping without unknown keys, a non-empty text, a whole number within
bounds, a text's placeholders and phrasing).
"""

from __future__ import annotations

from typing import Any

from bot.reminders.cadence_model import PLACEHOLDERS, _parse
from bot.reminders.forbidden import find_forbidden


class CadenceError(ValueError):
    """A cadence cannot be used; the message names the file, the step and the field, and says why."""


class _Checker:
    """Validation state of one document: where errors come from, and the warnings gathered."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.warnings: list[str] = []

    def error(self, where: str, message: str) -> CadenceError:
        return CadenceError(f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}")

    def mapping(self, value: Any, where: str, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"{what} must be a mapping with {', '.join(allowed)}")
        for key in value:
            if key not in allowed:
                raise self.error(
                    where, f"unknown field {key!r} in {what} (expected one of: {', '.join(allowed)})"
                )
        return value

    def text(self, value: Any, where: str, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"{field} must be a non-empty text, got {value!r}")
        return value.strip()

    def integer(self, value: Any, where: str, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"{field} must be a whole number between {low} and {high}, got {value!r}")
        if not low <= value <= high:
            raise self.error(where, f"{field} must be between {low} and {high}, got {value}")
        return value

    def content(self, text: str, where: str, field: str) -> list[str]:
        """Check a text's placeholders and phrasing; return its placeholders."""
        try:
            parsed = _parse(text)
        except ValueError:
            raise self.error(
                where, f"{field} has an unmatched '{{' or '}}' (write {{{{ or }}}} for a literal brace)"
            ) from None
        names: list[str] = []
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if spec or conversion:
                raise self.error(
                    where, f"{field}: placeholder {{{name}}} may not carry a format or conversion"
                )
            if name not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                raise self.error(where, f"{field} uses unknown placeholder {{{name}}} (allowed: {allowed})")
            names.append(name)
        found = find_forbidden(text)
        if found is not None:
            phrase, rule = found
            raise self.error(
                where, f"{field} contains forbidden phrasing {phrase!r}: {rule.reason} (CDC arts. 42 and 71)"
            )
        return names
