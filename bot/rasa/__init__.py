"""Rasa, which reads what debtors write: reached over HTTP only, run as its own process, trained here.

- `client`: the HTTP client the engine calls (Rasa's REST channel and `/model/parse`), `RasaUnavailable`;
- `server`: running the Rasa server (its endpoints and credentials files from the settings, its command line);
- `training`: the model's life cycle (training data, fingerprint, training, validation), Rasa run as a
  subprocess;
- `test_split`: the frozen test split, held out of every training (`nlu_data/test/test_split.yml`);
- `cross_validation`: the NLU cross-validation report (`docs/nlu-report.md`).

Nothing here imports Rasa (it lives in `.venv-rasa`); the code Rasa itself loads is in `rasa_extensions/`.
The action server is `actions/`; what the actions answer is `bot.answers`.
"""
