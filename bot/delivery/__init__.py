"""Getting messages to Twilio once: bot replies, reminders, payment thank-yous and agents' answers.

`outbound` saves replies before they are sent, claims and sends them in order, classifies provider errors
(permanent, retryable, ambiguous: settled by look-up, never resent blindly); `delivery_status` records
Twilio's status callbacks.
"""
