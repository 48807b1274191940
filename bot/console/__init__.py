"""The agent console's services (issue 16): the queue of conversations waiting for a person and who
owns each. The web views (webhooks/console.py) and the CLI (`regua handoff`) call these; they hold no
HTTP and no click, and decide permissions through `bot.people.roles` only.

- `queue`: the conversations waiting for a person, oldest first, with why, waiting time and the WhatsApp
  window;
- `assignments`: taking, assigning and releasing a conversation (row-locked: two agents never both own it);
- `thread`: a conversation's messages and internal notes, with delivery statuses, as an agent reads them
  (the last page, and older pages on demand);
- `composer`: the rules of what an agent may send now, and sending it through bot.delivery, never twice;
- `sms_alternative`: outside WhatsApp's 24-hour window, the agent's text by SMS to the debtor's phone (the
  debtor's SMS conversation, the creditor named), shown in the WhatsApp thread;
- `replies`: canned replies (`canned_replies.yml`) and the creditors' approved WhatsApp templates;
- `giveback`: "Devolver ao robô" (Rasa's tracker told) and the idle release back to the queue;
- `cases`: the open cases as the console lists them, and resolving one (the service `regua cases` uses);
- `people`: people management for admins (add, role, disable/enable, reset), guarding the last admin;
- `notifications`: what is new for one person since a moment (new conversations, debtor messages), by role;
- `card`: the debtor card beside a conversation (who, channels, invoices, agreements, promises, payments,
  cases, reminders, the policy's agreement options), read only; `card_rows`: its typed rows and labels;
- `card_actions`: the card's actions that write to the debtor (segunda via, agreement proposals and
  acceptance, promises), through the composer's rules and bot.delivery;
- `card_records`: the card's actions that only change records (pause/resume the régua for the debtor,
  resolve a case, register an opt-out);
- `duty`: whether an agent is on duty (`AGENT_HOURS`) and, if not, the next opening in local time.
"""
