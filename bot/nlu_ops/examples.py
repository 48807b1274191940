"""Labelled messages written to the training data as a reviewable diff (issue 17 §3).

Each intent's file `nlu_data/nlu/<intent>.yml` keeps its hand-written examples as they are; below them,
after the `SECTION_MARK` comment, a second block of the same intent holds the examples labelled in the NLU
inbox, which Régua rewrites whole on every export: masked (`bot.redaction.mask_message`), one line each,
with no annotation brackets of the debtor's but the entities ops marked (`[valor](entidade)`,
bot.nlu_ops.annotations), deduplicated against every example of every intent (case, accents,
punctuation, spaces and annotations aside), and sorted, so the same labels always give the same file and
a team reviews a change as a few added lines. Rasa merges the two blocks of an intent (its YAML format
allows an intent to appear more than once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Message, MessagePrediction, NluVerdict, utcnow
from bot.nlu_ops import annotations
from bot.nlu_ops.inbox import normalise
from bot.rasa import training
from bot.redaction import mask_message

SECTION_MARK = (
    "  # Labelled in the NLU inbox (regua nlu inbox): written by Régua, masked, sorted; review the diff."
)
_EXAMPLE_INDENT = "      - "


def intents(domain_file: Path | None = None) -> list[str]:
    """The intents the domain declares (the labels ops may choose), sorted."""
    return _declared("intents", domain_file)


def entities(domain_file: Path | None = None) -> list[str]:
    """The entities the domain declares (those ops may annotate), sorted."""
    return _declared("entities", domain_file)


def _declared(key: str, domain_file: Path | None) -> list[str]:
    return sorted((YAML(typ="safe").load(domain_file or training.DOMAIN_FILE) or {}).get(key) or [])


def example_text(body: str) -> str:
    """A message as a training example: masked, on one line, with no `[...]` Rasa would read as an
    entity annotation."""
    text = " ".join(mask_message(body).split())
    return text.replace("[", "(").replace("]", ")")


def same_example(text: str) -> str:
    """The form two examples are compared in: annotations stripped, then the inbox's grouping form (no
    accents, punctuation nor case, single spaces)."""
    return normalise(training.strip_annotations(text))


@dataclass
class WriteReport:
    """What an export did: examples added per intent, those already there, and those another intent
    already has (left out: the team decides which label is right)."""

    added: dict[str, list[str]] = field(default_factory=dict)
    already_there: int = 0
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (text, wanted, existing intent)


def write_examples(labelled: Iterable[tuple[str, str]], data_dir: Path | None = None) -> WriteReport:
    """Write `(intent, text)` pairs (texts as `example_text` makes them) into each intent's file under
    `data_dir` (default `nlu_data/`); returns what was added, skipped and refused."""
    data_dir = data_dir or training.DATA_DIR
    report = WriteReport()
    owners = {
        same_example(t): intent for intent, texts in training.nlu_examples(data_dir).items() for t in texts
    }
    wanted: dict[str, list[str]] = {}
    for intent, text in labelled:
        key = same_example(text)
        if not key:
            continue
        owner = owners.get(key)
        if owner == intent:
            report.already_there += 1
        elif owner is not None:
            report.conflicts.append((text, intent, owner))
        else:
            owners[key] = intent
            wanted.setdefault(intent, []).append(text)
    for intent, texts in sorted(wanted.items()):
        path = data_dir / "nlu" / f"{intent}.yml"
        head, section = split_section(path.read_text(encoding="utf-8"))
        path.write_text(head + render_section(intent, section + texts), encoding="utf-8")
        report.added[intent] = sorted(texts, key=_order)
    return report


def split_section(content: str) -> tuple[str, list[str]]:
    """A file's hand-written part (ending in one newline) and the examples of its inbox section."""
    head, mark, section = content.partition(SECTION_MARK + "\n")
    if not mark:
        return content.rstrip("\n") + "\n", []
    examples = [
        line[len(_EXAMPLE_INDENT) :] for line in section.splitlines() if line.startswith(_EXAMPLE_INDENT)
    ]
    return head.rstrip("\n") + "\n", examples


def render_section(intent: str, examples: list[str]) -> str:
    """The inbox section of `intent`'s file: a blank line, the mark, and the examples deduplicated and
    sorted (by their compared form, then as written, so the order never depends on the input's)."""
    unique: dict[str, str] = {}
    for text in sorted(examples, key=_order):
        unique.setdefault(same_example(text), text)
    lines = [f"{_EXAMPLE_INDENT}{text}" for text in unique.values()]
    return "\n".join(["", SECTION_MARK, f"  - intent: {intent}", "    examples: |", *lines]) + "\n"


def _order(text: str) -> tuple[str, str]:
    return same_example(text), text


def export(session: Session, data_dir: Path | None = None) -> WriteReport:
    """Write every labelled, not yet exported inbox message to the training data and mark them exported
    (conflicts too: the report names them, and relabelling one puts it back)."""
    query = (
        select(MessagePrediction, Message.body)
        .join(Message, Message.id == MessagePrediction.message_id)
        .where(
            MessagePrediction.verdict.in_(
                (NluVerdict.CONFIRMED, NluVerdict.RELABELLED, NluVerdict.OUT_OF_SCOPE)
            ),
            MessagePrediction.exported_at.is_(None),
            MessagePrediction.label.is_not(None),
        )
        .order_by(MessagePrediction.id)
    )
    rows = list(session.execute(query))
    labelled = [
        (p.label, annotations.annotate(example_text(body), p.annotations))
        for p, body in rows
        if body and p.label
    ]
    report = write_examples(labelled, data_dir)
    now = utcnow()
    for prediction, _ in rows:
        prediction.exported_at = now
    return report
