"""Roles and what each may do: the one place the console's permissions are decided.

Views, the CLI and the services ask `can(user, Permission.X)` (or `require`); none of them compares
roles itself, so a change of policy is a change here.

* agent: works the queue: sees the conversations waiting for anyone and their own, takes one; sees and
  resolves cases ("já paguei", disputes, payments that do not match);
* supervisor: an agent who also sees every conversation and assigns or reassigns them, may propose
  an agreement outside the creditor's policy (with a written reason, audited), and may let a candidate
  NLU model the quality gate refused go through, with a written reason (`OVERRIDE_GATE`), and reads the
  collection results (`SEE_RESULTS`: `/console/resultados`, its CSV exports) and declares an
  experiment's winning variant, which rewrites the creditor's cadence (`DECLARE_WINNER`, audited);
* admin: a supervisor who also manages people (`/console/pessoas` and `regua user ...`);
* ops: improves the bot: works the NLU inbox (`/console/nlu`, `regua nlu inbox`) and its training data,
  trains candidate models, and reads conversations to do so, but takes none (issue 17). Supervisors and
  admins may do it too.
"""

from __future__ import annotations

import enum

from bot.models import User, UserRole


class Permission(enum.StrEnum):
    """Something a person may be allowed to do in the console."""

    USE_CONSOLE = "use_console"  # log in and see the queue
    TAKE = "take"  # assign a waiting conversation to oneself
    SEE_ALL = "see_all"  # see conversations assigned to other people
    ASSIGN = "assign"  # assign a conversation to someone else, or take it from them
    CASES = "cases"  # see and resolve cases
    MANAGE_PEOPLE = "manage_people"  # add and disable people, change roles, reset passwords
    OUT_OF_POLICY_OFFER = "out_of_policy_offer"  # propose an agreement outside the creditor's policy
    NLU_INBOX = "nlu_inbox"  # review the messages the bot misunderstood, label them, train candidates
    OVERRIDE_GATE = "override_gate"  # let a candidate model the quality gate refused through, with a reason
    NLU_DEPLOY = "nlu_deploy"  # promote a model to answer debtors, or roll back to an earlier one
    SEE_RESULTS = "see_results"  # the results dashboard (/console/resultados) and its CSV exports
    DECLARE_WINNER = "declare_winner"  # end an experiment: its winning variant becomes the step's message


_AGENT = frozenset({Permission.USE_CONSOLE, Permission.TAKE, Permission.CASES})
_SUPERVISOR = _AGENT | {
    Permission.SEE_ALL,
    Permission.ASSIGN,
    Permission.OUT_OF_POLICY_OFFER,
    Permission.NLU_INBOX,
    Permission.OVERRIDE_GATE,
    Permission.NLU_DEPLOY,
    Permission.SEE_RESULTS,
    Permission.DECLARE_WINNER,
}
ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.AGENT: _AGENT,
    UserRole.SUPERVISOR: _SUPERVISOR,
    UserRole.ADMIN: _SUPERVISOR | {Permission.MANAGE_PEOPLE},
    UserRole.OPS: frozenset(
        {Permission.USE_CONSOLE, Permission.SEE_ALL, Permission.NLU_INBOX, Permission.NLU_DEPLOY}
    ),
}

# How the console and the CLI name each role.
ROLE_LABELS: dict[UserRole, str] = {
    UserRole.AGENT: "Agente",
    UserRole.SUPERVISOR: "Supervisor(a)",
    UserRole.ADMIN: "Administrador(a)",
    UserRole.OPS: "Operação de NLU",
}


class NotAllowed(Exception):
    """The person may not do this; the message is pt-BR, for them."""


def can(user: User | None, permission: Permission) -> bool:
    """True when `user` is active and their role grants `permission` (False for nobody)."""
    if user is None or not user.active:
        return False
    return permission in ROLE_PERMISSIONS[UserRole(user.role)]


def require(user: User | None, permission: Permission) -> None:
    """Raise `NotAllowed` unless `can(user, permission)`."""
    if not can(user, permission):
        raise NotAllowed("Você não tem permissão para fazer isso.")


def can_see_conversation(user: User | None, owner_id: int | None) -> bool:
    """True when `user` may read a conversation owned by `owner_id` (None: nobody): their own, one nobody
    owns, or (supervisors) anyone's."""
    if not can(user, Permission.USE_CONSOLE):
        return False
    return owner_id is None or owner_id == user.id or can(user, Permission.SEE_ALL)  # type: ignore[union-attr]


def can_act_on_conversation(user: User | None, owner_id: int | None) -> bool:
    """True when `user` may answer, write notes on or give back a conversation owned by `owner_id`: an
    agent only their own (one nobody owns must be taken first); a supervisor anyone's."""
    if not can(user, Permission.TAKE):
        return False
    if owner_id is not None and owner_id == user.id:  # type: ignore[union-attr]
        return True
    return owner_id is not None and can(user, Permission.ASSIGN)


def require_act_on_conversation(user: User | None, owner_id: int | None) -> None:
    """Raise `NotAllowed` (pt-BR, saying what to do) unless `can_act_on_conversation`."""
    if not can_act_on_conversation(user, owner_id):
        if owner_id is None:
            raise NotAllowed("Assuma a conversa antes de responder.")
        raise NotAllowed("Esta conversa está com outra pessoa: só ela ou um(a) supervisor(a) pode agir nela.")


def parse_role(value: str) -> UserRole:
    """The role named `value` (agent, supervisor, admin or ops, any case); ValueError in pt-BR otherwise."""
    try:
        return UserRole(value.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in UserRole)
        raise ValueError(f"papel desconhecido: {value!r} (use {names})") from None
