"""`regua nlu ...`: train, validate and cross-validate the Rasa model (logic lives in `bot.rasa.training`);
the NLU inbox, the examples it labels and what changed since the model come from `bot.cli.nlu_inbox`;
candidate models and the quality gate from `bot.cli.nlu_candidate`, and promote, rollback and history
from `bot.cli.nlu_serving`."""

from __future__ import annotations

import sys
import time

import click
from rich.console import Console
from rich.table import Table

from bot.cli.nlu_candidate import candidate_group
from bot.cli.nlu_inbox import changes_command, examples_command, inbox_group
from bot.cli.nlu_serving import history_command, promote_command, rollback_command
from bot.config import get_settings
from bot.db import Database
from bot.nlu_serving import state
from bot.rasa import cross_validation, training

MIN_MACRO_F1 = 0.90

console = Console()


def _fail(error: Exception) -> None:
    console.print(f"[bold red]Erro:[/] {error}", markup=True, highlight=False)
    sys.exit(1)


@click.group()
def nlu() -> None:
    """Modelo de NLU (Rasa): treinar, validar os dados e medir a qualidade."""


nlu.add_command(inbox_group)
nlu.add_command(examples_command)
nlu.add_command(changes_command)
nlu.add_command(candidate_group)
nlu.add_command(promote_command)
nlu.add_command(rollback_command)
nlu.add_command(history_command)


@nlu.command()
@click.option("--force", is_flag=True, help="Treina de novo mesmo que o modelo atual já exista.")
@click.option("-v", "--verbose", is_flag=True, help="Mostra a saída do Rasa.")
def train(force: bool, verbose: bool) -> None:
    """Treina o modelo se os dados de treino mudaram (models/regua-<fingerprint>.tar.gz)."""
    target = training.model_path()
    if target.exists() and not force:
        console.print(f"Modelo em dia: {target}")
        return
    console.print(f"Treinando {target.name} ...")
    started = time.monotonic()
    keep = models_in_use()
    try:
        path = training.ensure_model(force=force, verbose=verbose, keep=keep)
    except training.RasaError as error:
        _fail(error)
    console.print(f"[green]Modelo treinado[/] em {time.monotonic() - started:.0f} s: {path}")
    if keep is None:
        console.print("[yellow]Aviso:[/] o banco não respondeu; os modelos antigos foram mantidos.")


def models_in_use() -> set[str] | None:
    """The models a clean-up after training must keep: those the serving state and the deployment
    history name (bot.nlu_serving.state); None (keep every model) when the database does not answer."""
    database = Database(get_settings().effective_database_url)
    try:
        return state.models_to_keep(database)
    finally:
        database.dispose()


@nlu.command()
@click.option("--lenient", is_flag=True, help="Não falha com avisos do validador, só com erros.")
@click.option("-v", "--verbose", is_flag=True, help="Mostra a saída do Rasa.")
def validate(lenient: bool, verbose: bool) -> None:
    """Valida config.yml, domain.yml e nlu_data/ com `rasa data validate`."""
    try:
        training.validate(strict=not lenient, verbose=verbose)
    except training.RasaError as error:
        _fail(error)
    console.print("[green]Dados de treino válidos.[/]")


@nlu.command()
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2), help="Número de folds.")
@click.option(
    "--threshold",
    default=MIN_MACRO_F1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="F1 macro mínimo; abaixo dele o comando sai com erro.",
)
@click.option("--no-threshold", is_flag=True, help="Só relata; não falha por F1 baixo.")
@click.option("-v", "--verbose", is_flag=True, help="Mostra a saída do Rasa.")
def test(folds: int, threshold: float, no_threshold: bool, verbose: bool) -> None:
    """Validação cruzada da NLU; imprime precisão/recall/F1 por intenção e grava docs/nlu-report.md."""
    console.print(f"Validação cruzada com {folds} folds (treina {folds} modelos; leva alguns minutos) ...")
    try:
        report = cross_validation.cross_validate(folds=folds, verbose=verbose)
    except training.RasaError as error:
        _fail(error)

    table = Table(title=f"NLU: validação cruzada ({folds} folds)")
    table.add_column("Intenção")
    table.add_column("Exemplos", justify="right")
    table.add_column("Precisão", justify="right")
    table.add_column("Recall", justify="right")
    table.add_column("F1", justify="right")
    table.add_column("Confundida com")
    for s in report.intents:
        style = "red" if s.f1 < threshold else None
        confused = ", ".join(f"{k} ({v})" for k, v in sorted(s.confused_with.items(), key=lambda kv: -kv[1]))
        table.add_row(
            s.intent,
            str(s.examples),
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            f"{s.f1:.3f}",
            confused,
            style=style,
        )
    console.print(table)
    console.print(
        f"F1 macro: [bold]{report.macro_f1:.3f}[/]  acurácia: {report.accuracy:.3f}  "
        f"abaixo do limiar de confiança: {report.fallback_predictions}  "
        f"tempo: {report.duration_seconds / 60:.1f} min"
    )
    console.print(
        f"Relatório gravado em {cross_validation.REPORT_FILE.relative_to(cross_validation.PROJECT_ROOT)}"
    )
    if report.macro_f1 < threshold:
        message = f"F1 macro {report.macro_f1:.3f} abaixo do mínimo {threshold:.2f}"
        if no_threshold:
            console.print(f"[yellow]Aviso:[/] {message}")
        else:
            console.print(f"[bold red]Falhou:[/] {message}")
            sys.exit(1)
