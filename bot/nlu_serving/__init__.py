"""Serving the NLU model (issue 17 §6–§7): two Rasa slots, one answering debtors, and the swap between them.

- `state`: the serving state in the database (which slot answers, each slot's model, the swap in progress
  claimed with a fencing token) and the deployment history;
- `routing`: which slot's URL a Rasa call goes to (the engine's client asks per turn, cached ≤ 1 s);
- `swap`: promote and roll back: load the model into the idle slot, check and warm it, switch traffic;
- `jobs`: promotes and rollbacks asked for in the console, claimed in the request and run by the `nlu`
  worker, with their stage for the page and the release of a swap whose job died;
- `boot`: which model a slot starts with (`regua rasa-server --slot`).

Why two slots and not `PUT /model` on the serving Rasa: Rasa answers nothing while it loads a model
(RasaHQ/rasa#3910). The idle slot is loaded with `PUT /model` (it answers no debtor meanwhile); Rasa 3.6
keeps its running model when the new one cannot be loaded (the fix of RasaHQ/rasa PR #6358: a missing or
unreadable file answers 400/500 and leaves the agent as it was).
"""
