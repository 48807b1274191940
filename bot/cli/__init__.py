"""The `regua` command line. Each area has its own module holding a click group or command.

`processes` (the Procfile processes: web, rasa-server, actions, worker, health), `service` (setup, up), `db`,
`creditors`, `imports`, `demo`, `campaign` (scheduler, campaign previews), `chat`, `handoff`, `cases`, `lgpd`,
`nlu` (and `nlu_inbox`, its inbox commands, `nlu_candidate`, candidate models and the quality gate,
and `nlu_serving`: promote, rollback, history), `users` (people of the agent console), `experiments`
(A/B experiments on the régua's steps). Each module only parses options and prints: the logic lives in
the package its docstring names.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Régua: cobrança conversacional por WhatsApp e SMS."""


def _register() -> None:
    # Imported here, not at module top, so `regua --help` stays fast and a broken optional area is obvious.
    from bot.cli import (
        campaign,
        cases,
        chat,
        creditors,
        db,
        demo,
        experiments,
        handoff,
        imports,
        lgpd,
        nlu,
        processes,
        service,
        users,
    )

    for command in (
        db.db,
        creditors.creditor,
        imports.import_group,
        demo.demo,
        chat.chat,
        handoff.handoff,
        users.user,
        cases.cases,
        lgpd.lgpd,
        campaign.campaign,
        campaign.scheduler_command,
        experiments.experiment,
        nlu.nlu,
        processes.web,
        processes.rasa_server,
        processes.actions,
        processes.worker_command,
        processes.health_command,
        service.setup,
        service.up,
    ):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
