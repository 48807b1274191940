"""Forbidden phrasings: what automated reminders must never say (CDC arts. 42 and 71).

Every SMS text and every literal text of a cadence's WhatsApp variables is matched against `FORBIDDEN`
when the cadence is loaded (`bot.reminders.cadence_schema`): threatening, embarrassing or labelling
phrasings, case and accents ignored, whole words only. See `bot.reminders.cadence` for the legal checks.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.text_folding import fold_accents


class Forbidden(NamedTuple):
    """A phrasing automated reminders must never use: a regex over folded text (lower case, no accents),
    why it is forbidden, and an example it catches (the tests check every example)."""

    pattern: re.Pattern[str]
    reason: str
    example: str


def _rule(pattern: str, reason: str, example: str) -> Forbidden:
    return Forbidden(re.compile(pattern), reason, example)


# Patterns are matched against `_fold(text)`: lower case, accents removed ("ação" -> "acao"), so they are
# written without accents. Word boundaries everywhere: "processamento" is not "processo", "protestante"
# is not "protesto", "resposta negativa" is not "negativação", "penhor" is not "penhora".
FORBIDDEN: tuple[Forbidden, ...] = (
    # Credit bureaus and protest: lawful steps in themselves, but threats in an automated reminder.
    _rule(
        r"\bprotest(?:o|os|ar|ado|ada|ados|adas|amos|aremos|ara|arao)\b",
        "threat of protest at a notary (protesto)",
        "Evite o protesto do título.",
    ),
    _rule(r"\bcartorios?\b", "threat of protest at a notary (cartório)", "O título irá para o cartório."),
    _rule(
        r"\bnegativ(?:ar|ado|ada|ados|adas|acao|acoes|amos|aremos|ara|arao)\b",
        "mentions a negativação (Régua never mentions credit bureaus in automated reminders)",
        "Evite a negativação do seu CPF.",
    ),
    _rule(
        r"\b(?:spc|scpc|serasa)\b",
        "names a credit bureau (read as a threat of negativação)",
        "Seu CPF pode ir para o SPC.",
    ),
    _rule(
        r"\b(?:cadastros?|orgaos?|servicos?|bancos?\s+de\s+dados)\s+de\s+"
        r"(?:protecao\s+ao\s+credito|inadimplentes|devedores|maus\s+pagadores)\b",
        "mentions credit bureaus (read as a threat of negativação)",
        "Inclusão nos órgãos de proteção ao crédito.",
    ),
    _rule(
        r"\bnome\s+suj[oa]\b|\bsuj(?:ar|ara|arao|aremos|ou)\s+(?:o\s+)?(?:seu\s+)?nome\b",
        "embarrassing and threatening ('nome sujo')",
        "Não fique com o nome sujo!",
    ),
    _rule(
        r"\blimp(?:ar|e|a|o)\s+(?:o\s+)?(?:seu\s+)?nome\b",
        "presumes the debtor is negativado ('limpe seu nome')",
        "Limpe seu nome hoje.",
    ),
    # Courts, lawyers and seizure.
    _rule(
        r"\bacao\s+(?:judicial|de\s+cobranca|na\s+justica)\b",
        "threat of legal action",
        "Evite uma Ação Judicial.",
    ),
    _rule(
        r"\b(?:extra)?judicia(?:l|is|lmente|lizar|lizado|lizada|lizacao)\b",
        "threat of (extra)judicial measures",
        "Cobrança judicial em andamento.",
    ),
    _rule(r"\bjustica\b", "threat of going to court ('na Justiça')", "Vamos resolver isso na Justiça."),
    _rule(
        r"\bprocessos?\b|\bprocessa-l[oa]s?\b|\bprocess(?:ar|aremos|ara|arao)\s+(?:voce|o\s+senhor|a\s+senhora)\b"
        r"|\b(?:voce|o\s+senhor|a\s+senhora)\s+(?:sera|vai\s+ser|podera\s+ser|pode\s+ser)\s+processad[oa]\b",
        "threat of a lawsuit ('processo'; say 'procedimento' or 'etapa' for anything else)",
        "Você pode ser processado.",
    ),
    _rule(
        r"\badvogad[oa]s?\b|\bjuridic[oa]s?\b|\badvocacia\b",
        "threat of lawyers or a legal department",
        "Seu caso foi enviado ao departamento jurídico.",
    ),
    _rule(
        r"\bpenhor(?:a|as|ar|ado|ada|aremos)\b|\bexecuc(?:ao|oes)\b"
        r"|\bbloque(?:io|ar|aremos|ado)\s+(?:(?:de|do|dos|da|das|seu|seus|sua|suas)\s+)*"
        r"(?:bens|conta|contas|salario|imovel|veiculo|carro)\b",
        "threat of seizure (penhora, execução, bloqueio de bens)",
        "Sujeito a penhora de bens.",
    ),
    _rule(
        r"\bintima(?:cao|do|da|r)\b",
        "false legal formality (intimação)",
        "Esta é uma intimação.",
    ),
    _rule(r"\bsob\s+pena\s+de\b", "legal threat formula ('sob pena de')", "Pague sob pena de multa."),
    _rule(
        r"\b(?:medidas|providencias)\s+(?:cabiveis|legais|judiciais|extrajudiciais|drasticas|severas)\b",
        "veiled threat ('medidas cabíveis')",
        "Tomaremos as medidas cabíveis.",
    ),
    _rule(r"\bconsequencias?\b", "veiled threat ('consequências')", "Evite consequências."),
    # Police and crime.
    _rule(
        r"\bpolicia(?:l|is)?\b|\bdelegacia\b|\bboletim\s+de\s+ocorrencia\b",
        "threat of the police",
        "Registraremos na Polícia.",
    ),
    _rule(r"\b(?:cadeia|prisao|prisoes|pres[oa]s?)\b", "threat of prison", "Dívida não dá prisão? Dá sim."),
    _rule(
        r"\b(?:crimes?|criminos[oa]s?|criminal|estelionat(?:o|ario|aria)s?)\b",
        "accuses the debtor of a crime",
        "Não pagar pode ser crime.",
    ),
    # Shame and exposure to third parties.
    _rule(r"\b(?:en)?vergonh\w*", "embarrassing ('vergonha')", "Que vergonha, ainda não pagou."),
    _rule(r"\bconstrang\w*|\bhumilh\w*", "embarrassing ('constrangimento')", "Evite constrangimentos."),
    _rule(
        r"\bexpor\b|\bexposicao\b|\bdivulga(?:r|remos|cao)\b|\bpublicamente\b",
        "threat of exposing the debt",
        "Vamos divulgar a sua dívida.",
    ),
    _rule(
        r"\bvizinh(?:o|a|os|as|anca)\b",
        "threat of involving neighbours",
        "Seus vizinhos vão saber.",
    ),
    _rule(
        r"\b(?:seu|sua|seus|suas)\s+(?:chefes?|patrao|patroa|empregador|empregadora|supervisor|supervisora"
        r"|colegas?|familia|familiares|parentes|conjuge|esposa|esposo|marido|pais|filhos)\b",
        "threat of involving the debtor's employer, family or friends",
        "Vamos avisar seu chefe.",
    ),
    _rule(
        r"\b(?:na|em)\s+sua\s+(?:casa|residencia)\b|\b(?:no|em)\s+seu\s+(?:trabalho|emprego|servico)\b"
        r"|\bvisita\s+(?:domiciliar|de\s+cobranca)\b|\bcobrador(?:es)?\b",
        "threat of collecting at home or at work",
        "Vamos cobrar na sua casa.",
    ),
    # Pressure and false urgency (misleading, CDC art. 71).
    _rule(
        r"\bultim[oa]s?\s+(?:chance|chances|oportunidade|aviso|notificacao|alerta|tentativa|prazo)\b"
        r"|\bultimato\b",
        "false urgency ('última chance')",
        "ÚLTIMA CHANCE de pagar!",
    ),
    _rule(
        r"\bantes\s+que\s+seja\s+tarde\b",
        "veiled threat ('antes que seja tarde')",
        "Pague antes que seja tarde.",
    ),
    _rule(r"\burgen(?:te|tes|cia)\b", "pressure ('urgente')", "URGENTE: fatura em aberto."),
    # Labels and insults.
    _rule(r"\bcaloteir[oa]s?\b|\bcalotes?\b", "insult ('caloteiro')", "Não seja caloteiro."),
    _rule(
        r"\bdevedor(?:a|es|as)?\b|\binadimplentes?\b|\bmau\s+pagador\b|\bma\s+pagadora\b|\bmaus\s+pagadores\b",
        "labels the person ('devedor', 'inadimplente'); address the debtor by name",
        "Prezado devedor,",
    ),
    _rule(
        r"\b(?:safad[oa]s?|pilantras?|vagabund[oa]s?|vigaristas?|picaret[ao]s?|mentiros[oa]s?"
        r"|desonest[oa]s?|irresponsave(?:l|is)|sem\s+carater|mau\s+carater)\b",
        "insult",
        "Atitude irresponsável.",
    ),
)


def _fold(text: str) -> tuple[str, list[int]]:
    """`text` in lower case without accents, and for each folded character the index of the original one
    (to quote the offending words exactly as written)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in fold_accents(char.lower()):  # one character may fold into several ("ﬁ" -> "fi")
            folded.append(part)
            origin.append(index)
    return "".join(folded), origin


def find_forbidden(text: str) -> tuple[str, Forbidden] | None:
    """The first forbidden phrasing in `text` (as written there) and its rule, or None."""
    folded, origin = _fold(text)
    found: tuple[int, str, Forbidden] | None = None
    for rule in FORBIDDEN:
        match = rule.pattern.search(folded)
        if match and (found is None or match.start() < found[0]):
            phrase = text[origin[match.start()] : origin[match.end() - 1] + 1]
            found = (match.start(), phrase, rule)
    return None if found is None else (found[1], found[2])
