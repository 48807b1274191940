"""The agent console's services (issue 16): the queue of conversations waiting for a person and who
owns each. The web views (webhooks/console.py) and the CLI (`regua handoff`) call these; they hold no
HTTP and no click, and decide permissions through `bot.people.roles` only.

- `queue`: the conversations waiting for a person, oldest first, with why, waiting time and the WhatsApp
  window;
- `assignments`: taking, assigning and releasing a conversation (row-locked: two agents never both own it).
"""
