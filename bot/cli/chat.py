"""`regua chat`: talk to the running Régua as a debtor, through the real (signed) webhook."""

from __future__ import annotations

import click
import requests

from bot.cli.imports import fail, open_database
from bot.config import get_settings
from bot.conversation import chat as chat_lib
from bot.phones import Address, InvalidPhone, normalize_phone


@click.command()
@click.option("--phone", required=True, help="Número do devedor simulado, ex.: +5511987654321.")
@click.option("--channel", type=click.Choice(["whatsapp", "sms"]), default="whatsapp", show_default=True)
@click.option(
    "-m", "--message", "messages", multiple=True, help="Envia esta mensagem e sai (repita para mais)."
)
@click.option("--url", help="Endereço do app web (padrão: http://127.0.0.1:WEB_PORT).")
@click.option("--wait", default=20.0, show_default=True, help="Segundos de espera pela resposta.")
def chat(phone: str, channel: str, messages: tuple[str, ...], url: str | None, wait: float) -> None:
    """Conversa com a Régua como se fosse o devedor, pelo mesmo webhook que o Twilio usa.

    Funciona no modo sandbox (sem credenciais do Twilio): as respostas são guardadas e mostradas aqui.
    Sem --message, abre uma conversa interativa (Ctrl+D ou "sair" encerra).
    """
    settings = get_settings()
    if not settings.sandbox:
        # With a Twilio account the replies are real messages: they would go to that phone number.
        fail(
            "o chat simula um devedor no modo sandbox, e há credenciais do Twilio configuradas: as "
            "respostas iriam para o telefone de verdade. Rode sem TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN."
        )
    try:
        address = Address(channel, normalize_phone(phone))  # type: ignore[arg-type]
    except (InvalidPhone, ValueError) as error:
        fail(f"número inválido: {error}")
    base_url = url or f"http://127.0.0.1:{settings.web_port}"
    database = open_database()
    try:
        if messages:
            for text in messages:
                _turn(settings, database, base_url, address, text, wait)
            return
        click.echo(f"Conversando como {address.e164} por {channel}. Escreva 'sair' para encerrar.")
        while True:
            try:
                text = click.prompt("você", prompt_suffix="> ")
            except (EOFError, click.Abort):
                click.echo()
                return
            if text.strip().lower() in {"sair", "exit", "quit"}:
                return
            _turn(settings, database, base_url, address, text, wait)
    finally:
        database.dispose()


def _turn(settings, database, base_url: str, address: Address, text: str, wait: float) -> None:  # type: ignore[no-untyped-def]
    form = chat_lib.inbound_form(settings, address, text)
    try:
        response = chat_lib.post(settings, base_url, chat_lib.MESSAGES_PATH, form)
    except requests.RequestException as error:
        fail(f"o app web não respondeu em {base_url} ({type(error).__name__}). Ele está rodando (make run)?")
    if response.status_code != 200:
        fail(f"o webhook respondeu HTTP {response.status_code}: {response.text[:200]}")
    exchange = chat_lib.replies_to(database, form["MessageSid"], timeout=wait)
    for reply in exchange.replies:
        click.secho(f"régua> {reply.body}", fg="green")
        for media in reply.media or []:
            click.secho(f"        [imagem] {media.get('url')}", fg="green")
    if not exchange.replies:
        click.secho("(sem resposta por enquanto: a mensagem ficou guardada e será respondida)", fg="yellow")
