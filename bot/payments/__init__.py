"""Brazilian payment instruments: boletos (`bot.payments.boleto`) and Pix BR Codes (`bot.payments.pix`).

Both modules validate what a creditor sends us (linhas digitáveis, "Pix copia e cola"), build valid ones
(demo data, tests) and render them as images a debtor can scan from a phone screen. Amounts are int
centavos, as everywhere in Régua (see `bot.money`).

- `boleto`, `pix`: the instruments; `amounts`: updated amounts (multa, juros); `charges`: what a debtor can
  pay now, with every instrument; `links`: payment-page links and signed image URLs;
- `providers`: who issues and confirms charges; `confirmations`: applying confirmations (idempotent,
  audited); `mismatches`: payments that do not match the charge become cases; `webhook_secrets`: the
  per-creditor secrets of the confirmation webhook; `setup`: a creditor's payment settings and agreement
  policy.
"""
