"""Code Rasa loads inside its own environment (.venv-rasa): it imports nothing of Régua (bot/, webhooks/).

`regua rasa-server` starts Rasa through `launch` (the auth token stays out of the command line) with the
REST input channel replaced by `GuardedRestInput` from `guarded_rest` (which checks the same token).
"""
