"""Everything Régua itself writes to a debtor, in Brazilian Portuguese (replies Rasa does not produce).

Tone (CDC art. 42): polite, clear, never embarrassing or threatening. Texts that could reach the wrong
person (an unknown or unconfirmed number) reveal nothing about any debt or creditor.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.documents import format_cnpj
from bot.models import Channel
from bot.money import format_brl

CHANNEL_NAMES = {Channel.WHATSAPP: "WhatsApp", Channel.SMS: "SMS"}


def opt_out_confirmed(channel: Channel) -> str:
    """The one confirmation of an opt-out."""
    return (
        f"Pronto! Você não vai mais receber mensagens de cobrança por {CHANNEL_NAMES[channel]}. "
        "Se mudar de ideia, é só enviar VOLTAR."
    )


def opt_in_confirmed(channel: Channel) -> str:
    """The confirmation of an opt-in (VOLTAR)."""
    return (
        f"Tudo certo! Você voltou a receber nossas mensagens por {CHANNEL_NAMES[channel]}. "
        "Para parar a qualquer momento, envie PARAR."
    )


OUTAGE_NOTICE = (
    "Recebemos a sua mensagem, obrigado! Nosso assistente está com uma instabilidade momentânea e vai "
    "responder assim que possível. Não é preciso enviar de novo."
)

UNKNOWN_NUMBER = (
    "Olá! Não encontramos um cadastro vinculado a este número, por isso não podemos informar dados por "
    "aqui. Se você recebeu uma mensagem nossa, entre em contato pelo canal de atendimento indicado nela."
)

VERIFY_ASK = (
    "Para a sua segurança, antes de informar valores e códigos de pagamento, precisamos confirmar o seu "
    "cadastro. Por favor, envie os 3 primeiros dígitos do seu CPF."
)

VERIFY_WRONG = (
    "Os dígitos não conferem com o cadastro. Pode verificar e enviar de novo os 3 primeiros dígitos do "
    "seu CPF?"
)

VERIFY_LOCKED = (
    "Não foi possível confirmar o seu cadastro por aqui. Por segurança, a confirmação fica pausada por "
    "algumas horas; depois você pode tentar de novo. Se preferir, fale com a empresa pelo canal de "
    "atendimento indicado nas mensagens que você recebeu."
)


def verify_ok(first_name: str) -> str:
    """Thanks after a correct answer to the verification question."""
    return f"Obrigado, {first_name}! Cadastro confirmado."


def handoff(when: str | None) -> str:
    """Tells the debtor a person will take over, and when."""
    moment = f" {when}" if when else " assim que possível"
    return (
        f"Certo! Uma pessoa da nossa equipe vai continuar este atendimento{moment}. "
        "Pode deixar a sua mensagem por aqui que ela será lida."
    )


HANDOFF_ALREADY = (
    "O seu pedido já está com a nossa equipe, e uma pessoa vai responder por aqui. Obrigado pela paciência!"
)

FALLBACK_REPHRASE = (
    'Desculpe, não entendi bem. Pode escrever de outro jeito? Por exemplo: "segunda via", "quanto devo" '
    'ou "quero parcelar".'
)

FALLBACK_OFFER_HUMAN = (
    "Ainda não consegui entender, desculpe. Se preferir falar com uma pessoa da nossa equipe, é só "
    "escrever ATENDENTE."
)

MEDIA_RECEIVED = (
    "Recebemos o seu arquivo, obrigado! Ele ficou registrado no seu atendimento. Se quiser, escreva o "
    "que precisa."
)

NO_ANSWER = "Desculpe, não consegui responder agora. Pode escrever de outro jeito?"

NO_OPEN_INVOICES = "Não encontramos faturas em aberto no seu cadastro. Obrigado pelo contato!"

PAYMENT_METHODS = (
    "Você pode pagar pelo Pix (código copia e cola ou QR Code, no aplicativo do seu banco), pelo boleto "
    "(aplicativo ou internet banking, lotéricas e agências) ou pelo link de pagamento, quando disponível. "
    'Se quiser, escreva "segunda via" que eu envio os códigos da sua fatura.'
)


def more_charges(count: int) -> str:
    """After the detailed charges of a "segunda via"."""
    return f'Você tem mais {count} cobrança(s) em aberto. Escreva "quanto devo" para ver a lista completa.'


NOTHING_TO_NEGOTIATE = (
    "Não encontramos faturas em aberto que possam ser negociadas por aqui. Se precisar, escreva ATENDENTE "
    "para falar com uma pessoa da nossa equipe."
)


def confirm_agreement(terms: str) -> str:
    """Asks the debtor to confirm the exact terms of the chosen option."""
    return f"Confirma o acordo? {terms}\nResponda SIM para fechar ou NÃO para cancelar."


AGREEMENT_DECLINED = (
    'Tudo bem, o acordo não foi fechado. Se quiser ver as opções de novo, é só escrever "quero negociar".'
)


def agreement_closed(agreement_id: int, terms: str) -> str:
    """The agreement is made."""
    return f"Acordo nº {agreement_id} fechado! {terms} Os dados para pagar a primeira parcela vêm a seguir."


def already_paid(label: str, when: str) -> str:
    """The claimed invoice is already paid in our records."""
    return f"Está tudo certo: o pagamento da {label} foi confirmado{when}. Obrigado!"


def payment_claim(labels: str, days: int, case_ids: list[int], receipt_attached: bool) -> str:
    """A "já paguei" was recorded."""
    protocol = ", ".join(f"nº {i}" for i in case_ids)
    receipt = (
        "Recebemos o comprovante e vamos conferir."
        if receipt_attached
        else "Se puder, envie aqui uma foto ou o PDF do comprovante para agilizar a conferência."
    )
    return (
        f"Obrigado por avisar! Registramos o pagamento informado ({labels}; protocolo {protocol}). "
        f"Pausamos os lembretes por {days} dias enquanto a nossa equipe confere. {receipt}"
    )


RECEIPT_RECEIVED = (
    "Recebemos o seu comprovante, obrigado! Ele foi anexado ao seu atendimento e a nossa equipe vai conferir "
    "o pagamento."
)

NOTHING_TO_DISPUTE = (
    "Não encontramos faturas em aberto no seu cadastro. Se recebeu uma cobrança que não reconhece, escreva "
    "ATENDENTE para falar com uma pessoa da nossa equipe."
)


def dispute_recorded(labels: str, case_ids: list[int]) -> str:
    """A dispute was recorded and collection paused."""
    protocol = ", ".join(f"nº {i}" for i in case_ids)
    return (
        f"Entendi. Registramos a sua contestação ({labels}; protocolo {protocol}) e suspendemos a cobrança "
        "até a análise. Uma pessoa da nossa equipe vai analisar e responder por aqui. Se puder, conte o que "
        "aconteceu."
    )


# --- LGPD: the summary handed to a person who asks what Régua holds on them (bot.privacy.summary) -------

PRIVACY_SUMMARY_TITLE = "Seus dados pessoais tratados pela Régua"
PRIVACY_SUMMARY_INTRO = (
    "Este documento atende ao seu pedido de acesso aos dados pessoais (Lei Geral de Proteção de Dados, "
    "art. 18). Ele resume o que guardamos sobre você; o arquivo JSON que o acompanha traz todos os "
    "registros completos, em formato legível por máquina (portabilidade)."
)
PRIVACY_SUMMARY_ERASED = (
    "Seus dados de identificação foram anonimizados em {date}, a seu pedido. Guardamos apenas o que a "
    "lei exige que o credor mantenha (valores, pagamentos, acordos e o registro do seu pedido para não "
    "receber mensagens), sem dados que identifiquem você."
)
PRIVACY_SUMMARY_PURPOSE = (
    "Por que tratamos esses dados: para a cobrança de dívidas em nome do credor (execução de contrato e "
    "proteção do crédito, LGPD art. 7º, V e X), para cumprir obrigações legais, como guardar registros de "
    "pagamentos (art. 7º, II), e para registrar seus pedidos, como o de não receber mensagens."
)
PRIVACY_SUMMARY_SHARING = (
    "Com quem compartilhamos: a Twilio entrega as mensagens de WhatsApp e SMS (operadora, que guarda "
    "cópias conforme a política dela) e o assistente de conversa (Rasa) funciona nos nossos próprios "
    "servidores. Os dados não são vendidos nem usados para outros fins."
)
PRIVACY_SUMMARY_RIGHTS = (
    "Seus direitos: você pode pedir a correção de dados incorretos, a anonimização ou eliminação dos dados "
    "desnecessários e informações sobre o tratamento, pelo canal de atendimento do credor. Para não "
    "receber mais mensagens, basta responder PARAR."
)


# --- Issue 15 §3 (debtors): instalments asked for, complaints and legal threats ----------------------


def instalments_not_allowed(requested: int, maximum: int, minimum_cents: int, nearest: int | None) -> str:
    """Why the instalment count the debtor asked for cannot be offered, and the nearest one that can."""
    why = (
        f"Não conseguimos em {requested}x: o máximo é {maximum}x, com parcelas de pelo menos "
        f"{format_brl(minimum_cents)}."
    )
    if nearest is None:
        return why
    return f"{why} A opção mais próxima do que você pediu é em {nearest}x."


def same_options(requested: int | None, maximum: int) -> str:
    """A short answer to the same request again: the options already sent still stand."""
    if requested is not None:
        return (
            f"Entendo. Infelizmente {requested}x não é possível (o máximo é {maximum}x), mas as opções que "
            "enviamos acima continuam valendo. Responda com o número da opção que preferir."
        )
    return "As opções que enviamos acima continuam valendo. Responda com o número da opção que preferir."


PROMISE_ASK_DATE = (
    'Claro! Em qual data você consegue pagar? Pode responder, por exemplo, "dia 15", "15/12" ou "sexta".'
)
PROMISE_CHARGE_TITLE = "Para {:%d/%m}"  # the charge for the promised day: "Para 15/12"


def promise_recorded(promised_on: date, amount: str) -> str:
    """A promise to pay accepted: the date, the amount for that date, the reminders paused."""
    return (
        f"Combinado! Registramos o seu compromisso de pagamento para {promised_on:%d/%m/%Y}, no valor de "
        f"{amount}. Até lá não enviaremos lembretes. Seguem os dados para o pagamento:"
    )


def promise_too_far(promised_on: date, latest: date) -> str:
    """A promised date beyond the creditor's policy: the latest date allowed, or an agreement."""
    return (
        f"Entendemos. Infelizmente não conseguimos aguardar até {promised_on:%d/%m/%Y}: a data mais "
        f"distante que podemos aceitar é {latest:%d/%m/%Y}. Se essa data for possível, é só responder "
        'com ela. Se preferir, podemos fazer um acordo parcelado: é só escrever "quero negociar".'
    )


def complaint_received(when: str | None) -> str:
    """A complaint or a mention of Procon/lawyers/courts: a person takes over, with priority, politely."""
    moment = f" {when}" if when else " assim que possível"
    return (
        "Sentimos muito pelo transtorno e levamos a sua manifestação a sério. Uma pessoa da nossa equipe "
        f"vai analisar o seu caso com prioridade e responder por aqui{moment}. Enquanto isso, não "
        "enviaremos lembretes de cobrança."
    )


# --- Collection texts composed from data (issue 15 §1: moved from answers, agreements, payments,
# handoff and reminders, so a compliance review reads this one file). Amounts in cents.


def creditor_line(name: str, cnpj: str) -> str:
    """The creditor as every collection message names it: "Loja X (CNPJ 11.222.333/0001-81)"."""
    return f"{name} (CNPJ {format_cnpj(cnpj)})"


def invoice_label(description: str | None, external_ref: str) -> str:
    """How an invoice is named to its debtor: its description, else "fatura <reference>"."""
    return description or f"fatura {external_ref}"


def instalment_label(number: int, agreement_id: int, count: int | None = None) -> str:
    """ "parcela 1 de 6 do acordo 12" (or "parcela 1 do acordo 12" without `count`)."""
    of = f" de {count}" if count is not None else ""
    return f"parcela {number}{of} do acordo {agreement_id}"


def due_text(due: date, today: date) -> str:
    """ "venceu em 05/03/2026" / "vence hoje" / "vence em 10/03/2026"."""
    when = due.strftime("%d/%m/%Y")
    if due < today:
        return f"venceu em {when}"
    if due == today:
        return "vence hoje"
    return f"vence em {when}"


def breakdown(total: int, original: int, fine: int, interest: int, days_late: int, itemised: bool) -> str:
    """The amount, itemised when there are charges: "R$ 163,25 (valor original R$ 159,90 + multa ...)"."""
    if not itemised:
        return format_brl(total)
    return (
        f"{format_brl(total)} (valor original {format_brl(original)} + multa {format_brl(fine)} + "
        f"juros {format_brl(interest)}, {days_late} dia(s) de atraso)"
    )


def charge_summary(title: str, creditor: str, label: str, amount: str, due: str, page_url: str) -> list[str]:
    """The first lines of a charge: title and creditor, what and how much, the payment page."""
    return [
        f"{title} — {creditor}",
        f"{label[:1].upper()}{label[1:]}: {amount}, {due}.",
        f"Pague pelo link: {page_url}",
    ]


SMS_STOP_HINT = "Para não receber mais SMS, responda PARAR."  # an agent's SMS, a copy by SMS (console)
AGENT_SMS = "{creditor}: {text} " + SMS_STOP_HINT
PIX_CODE_FOLLOWS = "Pix copia e cola: copie o código da próxima mensagem e cole no app do seu banco."
BOLETO_LINE_FOLLOWS = "Boleto: a linha digitável vem em seguida, pronta para copiar."
CHARGE_TITLE_COPY = "Segunda via"
CHARGE_TITLE_FIRST_INSTALMENT = "Primeira parcela"


def open_with(creditor: str) -> str:
    """The heading of a creditor's open charges."""
    return f"Em aberto com {creditor}:"


def open_charge(label: str, amount: str, due: str) -> str:
    """One open charge in the debt summary."""
    return f"• {label}: {amount}, {due}"


def total_updated(total_cents: int) -> str:
    """The last line of a creditor's open charges."""
    return f"Total atualizado: {format_brl(total_cents)}."


ASK_FOR_PAYMENT_CODES = (
    'Para receber os códigos de pagamento, escreva "segunda via". Se precisar, podemos negociar.'
)


def option_description(instalments: int, total: int, discount: int, first: int, each: int) -> str:
    """An agreement option: "À vista: R$ 900,00 (desconto de R$ 100,00)" / "6x de R$ 150,00 (total ...)"."""
    if instalments == 1:
        off = f" (desconto de {format_brl(discount)})" if discount else ""
        return f"À vista: {format_brl(total)}{off}"
    if first != each:
        plan = f"entrada de {format_brl(first)} + {instalments - 1}x de {format_brl(each)}"
    else:
        plan = f"{instalments}x de {format_brl(each)}"
    return f"{plan} (total {format_brl(total)})"


def agreement_terms(description: str, instalments: int, first_due: date, creditor_name: str) -> str:
    """The exact terms the debtor confirms (stored with the agreement)."""
    due = first_due.strftime("%d/%m/%Y")
    if instalments == 1:
        return f"{description}, com vencimento em {due}, com {creditor_name}."
    return (
        f"{description}, primeira parcela em {due} e as demais no mesmo dia dos meses seguintes, "
        f"com {creditor_name}."
    )


def offer_intro(creditor: str, debt_cents: int) -> str:
    """The first line of an agreement offer."""
    return f"Podemos fazer um acordo com {creditor}. O total atualizado é {format_brl(debt_cents)}."


OFFER_OPTIONS = "Opções:"
OFFER_PICK = "Responda com o número da opção que preferir."


def offer_option(number: int, description: str) -> str:
    """One numbered option of an offer."""
    return f"{number}) {description}"


def offer_first_due(first_due: date) -> str:
    """When the first instalment of every option falls due."""
    return f"A primeira parcela vence em {first_due:%d/%m/%Y}."


def paid_on(moment: datetime | None) -> str:
    """ " em 05/03/2026" for a known payment date, "" otherwise (completes `already_paid`)."""
    return f" em {moment:%d/%m/%Y}" if moment is not None else ""


def payment_received(amount_cents: int, label: str, creditor_name: str) -> str:
    """The thanks for a confirmed payment."""
    return (
        f"Recebemos o pagamento de {format_brl(amount_cents)} referente a {label} "
        f"({creditor_name}). Obrigado!"
    )


AGENT_SOON = "em instantes, durante o nosso horário de atendimento"

_DAY_NAMES = [
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
]


def when(local: datetime, days_ahead: int) -> str:
    """When a local moment `days_ahead` days from today is: "hoje às 14h", "amanhã às 8h",
    "na segunda-feira às 8h" (within a week) or "em 02/01 às 8h"."""
    clock = f"{local.hour}h" if local.minute == 0 else f"{local.hour}h{local.minute:02d}"
    if days_ahead == 0:
        return f"hoje às {clock}"
    if days_ahead == 1:
        return f"amanhã às {clock}"
    if 1 < days_ahead < 7:
        return f"na {_DAY_NAMES[local.weekday()]} às {clock}".replace("na sábado", "no sábado").replace(
            "na domingo", "no domingo"
        )
    return f"em {local:%d/%m} às {clock}"


def reminder_amount(total: str, count: int) -> str:
    """The {valor} of a reminder combining `count` charges."""
    return total if count == 1 else f"{total} ({count} faturas)"
