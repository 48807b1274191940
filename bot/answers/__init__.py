"""What the bot answers for each business intent: the Rasa actions in `actions/` call these functions.

- `turns`: the `Turn` (conversation, message, entities), the identity gate in front of personal data
  (`for_confirmed_debtor`) and `respond`, what an action calls;
- `debts`: what is owed and how to pay it (`consultar_divida`, `segunda_via`, `forma_pagamento`);
- `negotiation`: agreement offers and the answer to a pending one (`renegociar`, `answer_offer`), promises
  to pay on a date (`prometer_pagamento`);
- `claims`: "já paguei" claims and disputes, recorded as cases for an agent (`ja_paguei`,
  `contestar_divida`);
- `contact`: stop (`parar`), a person (`falar_atendente`), not understood (`fallback`).

Every sentence a debtor reads comes from `bot.texts`.
"""
