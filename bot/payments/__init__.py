"""Brazilian payment instruments: boletos (`bot.payments.boleto`) and Pix BR Codes (`bot.payments.pix`).

Both modules validate what a creditor sends us (linhas digitáveis, "Pix copia e cola"), build valid ones
(demo data, tests) and render them as images a debtor can scan from a phone screen. Amounts are int
centavos, as everywhere in Régua (see `bot.money`).
"""
