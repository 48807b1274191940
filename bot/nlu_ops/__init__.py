"""Improving the bot from real messages (issue 17): what the model made of each message, the NLU inbox
where ops correct it, and the training data that results.

- `recording`: every prediction (intent, confidence, top-3 ranking, entities, model) stored with its
  message, in the turn's own transaction;
- `inbox`: the messages worth a look (unsure, not understood, flagged, before a hand-over), grouped by
  similar masked text, most frequent first;
- `review`: ops' decisions (confirm, relabel, out of scope, discard; one message or a group) and an
  agent's flag "o robô não entendeu";
- `annotations`: the entities ops mark on a message's masked text, checked against the domain and the
  text, and written in Rasa's `[trecho](entidade)` syntax;
- `examples`: labelled messages written to `nlu_data/nlu/<intent>.yml`, masked, deduplicated, sorted;
- `changes`: which model is the current one (the one answering debtors) and what changed in the
  examples since it was trained;
- `candidates`: the registry of candidate models (`nlu_models`): one training at a time, its stages,
  heartbeat and the sweep that fails a dead job's candidate;
- `trainer`: the background job (RQ queue `nlu`) that trains a candidate off the serving path and
  evaluates it;
- `evaluation`: a candidate against the current model on the frozen test split, the regression set of
  corrected messages and recent real messages;
- `gate`: the quality gate's rules, its verdict and a supervisor's override.
"""
