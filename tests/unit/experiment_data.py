"""A creditor whose cadence runs an experiment on its D+1 step (variants a and b, a 20 % holdout), shared by
the experiment tests."""

from __future__ import annotations

SMS_A = (
    "Olá, {nome}. A fatura de {data} ({valor}) com {credor} (CNPJ {cnpj}) está pendente. {link} "
    "Para não receber mais, responda PARAR."
)
SMS_B = (
    "{nome}, regularize hoje a fatura de {data} ({valor}) com {credor} (CNPJ {cnpj}): {link} "
    "Para não receber mais, responda PARAR."
)

EXPERIMENT_CADENCE = f"""
version: 1
name: teste
limits: {{per_day: 1, per_week: 3}}
steps:
  - id: antes
    offset_days: -3
    tone: amigavel
    channels: [sms]
    sms: "{SMS_A}"
  # The experiment: b's firmer wording against a, and a holdout without any message.
  - id: depois
    offset_days: 1
    tone: cordial
    channels: [sms]
    sms: "{SMS_A}"
    holdout: 20
    sample_size: 40
    variants:
      - {{id: a, weight: 50}}
      - {{id: b, weight: 50, sms: "{SMS_B}"}}
"""


def cpf(n: int) -> str:
    """A distinct CPF-shaped number for test debtor `n` (the models store it as given)."""
    return f"{n:011d}"
