"""Entities ops mark in the NLU inbox (issue 17 §2, "annotate entities"), on the masked text.

An annotation is an entity of the domain (`valor`, `data`, `parcelas`) and the exact substring of the
message's masked text it covers ("dia 15", "<valor>"): ops never see, and so can never annotate, the
personal data the mask hides. `resolve` checks a person's annotations against one message's masked text
(pt-BR errors, `AnnotationError`) and places them; `annotate` writes them into a training example in
Rasa's syntax, `[valor](entidade)`. A substring that occurs twice is marked where it first occurs; a
second annotation of the same substring marks its next occurrence, so "<valor> e nao <valor>" can carry
two `valor`s.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# At most this many annotations per message: a form with more is not a person marking entities.
MAX_ANNOTATIONS = 10


class AnnotationError(ValueError):
    """The annotations cannot be stored as given; the message is pt-BR, for the person."""


@dataclass(frozen=True)
class Annotation:
    """An entity of the domain and the substring of the masked text it covers."""

    entity: str
    value: str

    def as_dict(self) -> dict[str, str]:
        """How it is stored (`message_predictions.annotations`)."""
        return {"entity": self.entity, "value": self.value}


def from_pairs(pairs: Iterable[tuple[str, str]]) -> list[Annotation]:
    """Annotations from (entity, substring) pairs as a form or the CLI sends them: blank pairs are
    skipped; a pair with one half blank is an error (nothing is guessed)."""
    found = []
    for entity, value in pairs:
        entity, value = entity.strip(), " ".join(value.split())
        if not entity and not value:
            continue
        if not entity:
            raise AnnotationError(f"Escolha a entidade do trecho “{value}”.")
        if not value:
            raise AnnotationError(f"Escreva o trecho do texto que é a entidade {entity}.")
        found.append(Annotation(entity, value))
    if len(found) > MAX_ANNOTATIONS:
        raise AnnotationError(f"Marque no máximo {MAX_ANNOTATIONS} entidades por mensagem.")
    return found


def parse_option(option: str) -> tuple[str, str]:
    """`entidade=trecho` (the CLI's `--entity`) as a pair."""
    entity, sign, value = option.partition("=")
    if not sign:
        raise AnnotationError(f"Use --entity entidade=trecho (recebido: “{option}”).")
    return entity, value


def resolve(
    text: str, wanted: Sequence[Annotation], entities: Collection[str], *, any_case: bool = False
) -> list[dict[str, Any]]:
    """Place `wanted` on the masked `text`: each an entity of `entities` (the domain's) whose substring
    occurs in `text` (ignoring case with `any_case`) without overlapping another. Returns `{"entity",
    "value", "start", "end"}` in text order, `value` as `text` has it; raises `AnnotationError` (pt-BR)
    otherwise."""
    placed: list[dict[str, Any]] = []
    for annotation in wanted:
        if annotation.entity not in entities:
            known = ", ".join(sorted(entities)) or "nenhuma"
            raise AnnotationError(
                f"Entidade desconhecida: “{annotation.entity}”. As entidades do domínio são: {known}."
            )
        span = _free_span(text, annotation.value, placed, any_case)
        if span is None:
            if _free_span(text, annotation.value, [], any_case):
                raise AnnotationError(
                    f"O trecho “{annotation.value}” se sobrepõe a outra entidade marcada: marque cada "
                    "parte do texto uma vez só."
                )
            raise AnnotationError(
                f"O trecho “{annotation.value}” não aparece no texto da mensagem. Copie-o exatamente "
                "como aparece (com os dados pessoais mascarados, como <valor>)."
            )
        start, end = span
        placed.append({"entity": annotation.entity, "value": text[start:end], "start": start, "end": end})
    return sorted(placed, key=lambda a: a["start"])


def _free_span(
    text: str, value: str, placed: Sequence[dict[str, Any]], any_case: bool = False
) -> tuple[int, int] | None:
    """The first occurrence of `value` in `text` (in any case with `any_case`) overlapping none of
    `placed`."""
    for match in re.finditer(re.escape(value), text, re.IGNORECASE if any_case else 0):
        if all(match.end() <= p["start"] or match.start() >= p["end"] for p in placed):
            return match.start(), match.end()
    return None


def defaults(text: str, predicted: Iterable[tuple[str, str]], entities: Collection[str]) -> list[Annotation]:
    """The entities the model predicted, as (entity, masked value), that can be placed on `text`: what
    the inbox's form shows before anyone changes it."""
    chosen: list[Annotation] = []
    for entity, value in predicted:
        candidate = Annotation(entity, " ".join(value.split()))
        if not candidate.value or candidate in chosen:
            continue
        try:
            resolve(text, [*chosen, candidate], entities)
        except AnnotationError:
            continue  # a value the mask changed, or an entity the domain no longer has
        chosen.append(candidate)
    return chosen


def annotate(example: str, stored: Iterable[dict[str, Any]] | None) -> str:
    """`example` with the `stored` annotations written in Rasa's syntax, `[trecho](entidade)`. An
    annotation that no longer fits the example (its text was cleaned differently) is left out, never
    guessed; the example itself is kept."""
    placed: list[dict[str, Any]] = []
    for item in stored or ():
        # The example has no square brackets (bot.nlu_ops.examples.example_text); neither may the value.
        value = str(item.get("value") or "").replace("[", "(").replace("]", ")")
        span = _free_span(example, value, placed) if value else None
        if span is not None:
            placed.append({"entity": str(item.get("entity")), "start": span[0], "end": span[1]})
    out, cursor = [], 0
    for p in sorted(placed, key=lambda a: a["start"]):
        out += [example[cursor : p["start"]], f"[{example[p['start'] : p['end']]}]({p['entity']})"]
        cursor = p["end"]
    return "".join([*out, example[cursor:]])
