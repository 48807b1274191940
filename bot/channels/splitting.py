"""Splitting long texts into messages a phone shows well.

SMS: Twilio accepts up to 1,600 characters and the phone reassembles the segments, but long SMS arrive
out of order or cut on some handsets and cost per segment; Régua splits them into parts of at most
`SMS_PART_MAX_CHARS` (default 612: four concatenated GSM-7 segments). WhatsApp takes 1,600 characters.

Parts break at a blank line if possible, then at a line end, then after a sentence, then between
words; never inside a word, so a Pix code or a linha digitável always arrives whole and can be copied.
"""

from __future__ import annotations

import re

WHATSAPP_MAX_CHARS = 1600
TWILIO_MAX_CHARS = 1600

_BREAKS = (
    re.compile(r"\n\s*\n"),  # paragraphs
    re.compile(r"\n"),  # lines
    re.compile(r"(?<=[.!?;:])\s+"),  # sentences
    re.compile(r"\s+"),  # words
)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, split at the most natural place available.

    A single word longer than `limit` (up to Twilio's 1,600) is kept whole; beyond that it is cut.
    """
    text = text.strip()
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text] if text else []
    for index, pattern in enumerate(_BREAKS):
        # A paragraph, line or sentence break is worth it only if the part is not tiny.
        minimum = 0 if index == len(_BREAKS) - 1 else limit // 3
        cut = _last_break(text, limit, pattern, minimum)
        if cut is not None:
            head, tail = text[: cut[0]].rstrip(), text[cut[1] :]
            return [head, *split_text(tail, limit)]
    # One word longer than the limit: keep it whole when the provider takes it, else cut it.
    word_end = re.search(r"\s", text)
    end = word_end.start() if word_end else len(text)
    if end > TWILIO_MAX_CHARS:
        end = TWILIO_MAX_CHARS
    return [text[:end], *split_text(text[end:], limit)]


def _last_break(text: str, limit: int, pattern: re.Pattern[str], minimum: int) -> tuple[int, int] | None:
    """(start, end) of the last match of `pattern` that leaves a head of `minimum`..`limit` characters."""
    best = None
    for match in pattern.finditer(text, 0, limit + 1):
        if match.start() == 0 or match.start() < minimum:
            continue
        if match.start() > limit:
            break
        best = (match.start(), match.end())
    return best
