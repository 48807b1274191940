"""What a debtor commits to: renegotiation agreements and promises to pay on a date (docs/payments.md).

- `pricing`: the creditor's agreement policy and the options it allows (à vista, instalment plans);
- `offers`: the debt that may be renegotiated, the offer saved on the conversation, reading the debtor's
  pick and "sim"/"não", the exact terms;
- `lifecycle`: an agreement accepted from an offer, completed once paid, broken when an instalment is late;
- `references`: an instalment's reference in payment confirmations and Pix txids ("A12P3");
- `promises`: promises to pay on a date, recorded within the policy, kept or broken;
- `promise_dates`: reading the dates debtors write ("dia 15", "sexta", "amanhã").

What the bot answers about them is in `bot.answers`; the payments that settle them in `bot.payments`.
"""
