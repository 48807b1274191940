"""`regua nlu inbox ...`, `regua nlu examples` and `regua nlu changes`: the NLU inbox from the terminal
(logic in `bot.nlu_ops`). Texts are shown masked, like everywhere outside the conversation."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy.orm import Session

from bot.cli.imports import fail, open_database
from bot.config import get_settings
from bot.localtime import local_datetime
from bot.models import User
from bot.nlu_ops import annotations, changes, examples, inbox, review
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, require

_USER = click.option(
    "--user", "email", required=True, help="E-mail de quem decide (papel ops, supervisor ou admin)."
)
_DAYS = click.option(
    "--days", default=30, show_default=True, type=click.IntRange(1, 365), help="Mensagens dos últimos N dias."
)


@click.group("inbox", invoke_without_command=True)
@_DAYS
@click.option(
    "--limit", default=30, show_default=True, type=click.IntRange(1, 1000), help="Quantos grupos mostrar."
)
@click.pass_context
def inbox_group(context: click.Context, days: int, limit: int) -> None:
    """Caixa de entrada da NLU: mensagens que o robô não entendeu bem, agrupadas por texto parecido."""
    if context.invoked_subcommand is not None:
        return
    threshold = get_settings().nlu_inbox_threshold
    database = open_database()
    try:
        with database.session() as session:
            groups = inbox.pending(session, threshold, days=days)
            if not groups:
                click.echo("Caixa de entrada vazia: nada para revisar.")
                return
            click.echo(
                f"{len(groups)} grupo(s), {sum(g.count for g in groups)} mensagem(ns) "
                f"(limiar {threshold:.2f}):"
            )
            for group in groups[:limit]:
                click.echo(_group_line(group))
    finally:
        database.dispose()


def _group_line(group: inbox.InboxGroup) -> str:
    confidence = f"{group.confidence:.2f}" if group.confidence is not None else "-"
    why = ", ".join(inbox.REASONS[r] for r in group.reasons)
    last = local_datetime(group.items[0].received_at)
    # The predicted entities, written as `--entity` takes them (masked values), to copy into a decision.
    found = "".join(f"  {entity}={value!r}" for entity, value in group.entities if entity and value)
    return (
        f"{group.key}  {group.count:>4}x  {group.intent or '-':20} {confidence:>5}  {last:%d/%m %H:%M}  "
        f"{group.text!r}  ({why}){found}"
    )


def _decide(
    key: str,
    message_ids: tuple[int, ...],
    email: str,
    days: int,
    act: Callable[[Session, list[int], User], int],
) -> None:
    """Run `act` on a group's predictions (or on the given messages of the inbox) as `email`."""
    threshold = get_settings().nlu_inbox_threshold
    database = open_database()
    try:
        with database.session() as session:
            try:
                person = accounts.active_user(session, email)
                require(person, Permission.NLU_INBOX)
                group = inbox.find_group(session, threshold, key, days=days)
                if group is None:
                    fail(f"grupo {key} não está na caixa de entrada (já decidido?)")
                items = [i for i in group.items if not message_ids or i.message_id in message_ids]
                if not items:
                    fail("nenhuma das mensagens indicadas está neste grupo")
                decided = act(session, [i.prediction_id for i in items], person)
            except (accounts.AccountError, NotAllowed, review.ReviewError) as error:
                fail(str(error).rstrip("."))
        click.echo(f"{decided} mensagem(ns) decidida(s) no grupo {key}.")
    finally:
        database.dispose()


_KEY = click.argument("key")
_MESSAGES = click.option(
    "--message", "message_ids", multiple=True, type=int, help="Só estas mensagens do grupo (id; repetível)."
)
_ENTITIES = click.option(
    "--entity",
    "entity_options",
    multiple=True,
    metavar="ENTIDADE=TRECHO",
    help="Marca uma entidade do domínio no texto mascarado (ex.: data='dia 15'; repetível).",
)


def _marks(entity_options: tuple[str, ...]) -> review.Marks:
    """The `--entity` options as the entities marked on the group's messages (a clear error if malformed)."""
    try:
        pairs = [annotations.parse_option(option) for option in entity_options]
        return review.Marks(annotations.from_pairs(pairs), examples.entities())
    except annotations.AnnotationError as error:
        fail(str(error).rstrip("."))


@inbox_group.command("confirm")
@_KEY
@_MESSAGES
@_ENTITIES
@_USER
@_DAYS
def confirm(
    key: str, message_ids: tuple[int, ...], entity_options: tuple[str, ...], email: str, days: int
) -> None:
    """Confirma a intenção prevista para o grupo KEY (com as entidades de --entity)."""
    marks = _marks(entity_options)

    def act(session: Session, ids: list[int], person: User) -> int:
        return review.confirm(session, ids, person, marks)

    _decide(key, message_ids, email, days, act)


@inbox_group.command("label")
@_KEY
@click.argument("intent")
@_MESSAGES
@_ENTITIES
@_USER
@_DAYS
def label(
    key: str,
    intent: str,
    message_ids: tuple[int, ...],
    entity_options: tuple[str, ...],
    email: str,
    days: int,
) -> None:
    """Troca a intenção do grupo KEY para INTENT (fora_de_escopo: fora do escopo), com as entidades de
    --entity."""
    known, marks = examples.intents(), _marks(entity_options)

    def act(session: Session, ids: list[int], person: User) -> int:
        return review.relabel(session, ids, intent, person, intents=known, marks=marks)

    _decide(key, message_ids, email, days, act)


@inbox_group.command("discard")
@_KEY
@_MESSAGES
@_USER
@_DAYS
def discard(key: str, message_ids: tuple[int, ...], email: str, days: int) -> None:
    """Descarta o grupo KEY (não ensina nada ao modelo)."""
    _decide(key, message_ids, email, days, review.discard)


@click.command("examples")
def examples_command() -> None:
    """Grava as mensagens rotuladas em nlu_data/nlu/<intenção>.yml (mascaradas, sem repetição, ordenadas)."""
    database = open_database()
    try:
        with database.session() as session:
            report = examples.export(session)
        for intent, texts in report.added.items():
            click.echo(f"{intent}: +{len(texts)}")
            for text in texts:
                click.echo(f"  + {text}")
        for text, wanted, owner in report.conflicts:
            click.echo(f"Conflito: {text!r} rotulada {wanted}, mas já é exemplo de {owner} (não gravada).")
        added = sum(len(t) for t in report.added.values())
        click.echo(
            f"{added} exemplo(s) novo(s), {report.already_there} já existia(m). "
            "Revise com `git diff nlu_data/`."
        )
    finally:
        database.dispose()


@click.command("changes")
def changes_command() -> None:
    """Mostra o que mudou nos exemplos de treino desde o modelo atual (o que responde aos devedores)."""
    database = open_database()
    try:
        with database.session() as session:
            current = changes.current_model(session, get_settings().models_dir)
    finally:
        database.dispose()
    found = changes.since_model(current)
    if found.model is None:
        fail("nenhum modelo treinado (rode `regua nlu train`)")
    if not found.known:
        fail(f"os exemplos de {found.model.name} não foram registrados; treine de novo para compará-los")
    if found.empty:
        click.echo(f"Nenhuma mudança desde {found.model.name}.")
        return
    click.echo(f"Mudanças desde {found.model.name}:")
    for intent in sorted(set(found.added) | set(found.removed)):
        click.echo(f"{intent}:")
        for text in found.added.get(intent, []):
            click.echo(f"  + {text}")
        for text in found.removed.get(intent, []):
            click.echo(f"  - {text}")
