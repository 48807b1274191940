"""Getting messages to Twilio once: bot replies, reminders, payment thank-yous and agents' answers.

* `outgoing`: the `Outgoing` message type; saving rows before anything is sent, and claiming them with a
  conditional UPDATE.
* `sending`: the one delivery path, `deliver`: hand claimed messages to the provider, classify its
  errors (permanent, retryable, ambiguous: settled by look-up, never resent blindly), record.
* `lookup`: settling a send whose outcome is unknown by asking the provider.
* `status`: Twilio's status callbacks (a message's status only moves forward).
"""
