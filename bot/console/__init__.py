"""The agent console's services (issue 16): the queue of conversations waiting for a person and who
owns each. The web views (webhooks/console.py) and the CLI (`regua handoff`) call these; they hold no
HTTP and no click, and decide permissions through `bot.people.roles` only.
"""
