"""People management and cases in the console: the services (permissions, the last admin, audit) and the
web views (CSRF, roles)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.console import cases, people
from bot.db import Database
from bot.models import AuditLog, Case, CaseKind, CaseStatus, Invoice, User, UserRole
from bot.people import accounts
from bot.people.roles import NotAllowed
from tests.conftest import People
from tests.unit.console_people import PASSWORD, make_user

NEW_PASSWORD = "girassol-amarelo-na-janela"


def _case(db: Database, people_: People, kind: CaseKind = CaseKind.DISPUTE) -> int:
    with db.session() as s:
        invoice = s.scalars(select(Invoice).where(Invoice.external_ref == "F-1")).one()
        invoice.pause_reason = "dispute"
        case = Case(kind=kind, debtor_id=people_.debtor_id, invoice_id=invoice.id, evidence=[])
        s.add(case)
        s.flush()
        return case.id


def _token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _logged_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/", data={"csrf_token": _token(client, "/"), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def test_an_agent_cannot_manage_people(db: Database) -> None:
    agent_id = make_user(db, "agent")
    with db.session() as s:
        agent = s.get(User, agent_id)
        with pytest.raises(NotAllowed):
            people.add(
                s, agent, email="b@regua.example", name="Bia", role=UserRole.ADMIN, password=NEW_PASSWORD
            )
        with pytest.raises(NotAllowed):
            people.set_active(s, agent, agent_id, False)


def test_an_admin_adds_a_person_audited_under_the_admin_with_the_cli_password_rules(db: Database) -> None:
    admin_id = make_user(db, "admin")
    with db.session() as s:
        admin = s.get(User, admin_id)
        with pytest.raises(accounts.AccountError):
            people.add(
                s, admin, email="b@regua.example", name="Bia", role=UserRole.AGENT, password="senha123"
            )
        added = people.add(
            s, admin, email="B@regua.example", name="Bia", role=UserRole.AGENT, password=NEW_PASSWORD
        )
        rows = s.scalars(select(AuditLog).where(AuditLog.actor == f"agent:{admin_id}")).all()
    assert added.email == "b@regua.example"
    assert [(r.action, str(r.entity_id)) for r in rows] == [("user.added", str(added.id))]


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted_and_no_admin_disables_themself(
    db: Database,
) -> None:
    admin_id = make_user(db, "admin")
    other_id = make_user(db, "admin", email="bia@regua.example", name="Bia Lima")
    with db.session() as s:
        admin = s.get(User, admin_id)
        with pytest.raises(accounts.AccountError, match="próprio acesso"):
            people.set_active(s, admin, admin_id, False)
        people.set_active(s, admin, other_id, False)
        with pytest.raises(accounts.AccountError, match="última pessoa administradora"):
            people.change_role(s, admin, admin_id, UserRole.AGENT)
        people.set_active(s, admin, other_id, True)
        people.change_role(s, admin, other_id, UserRole.SUPERVISOR)
        actions = s.scalars(select(AuditLog.action).where(AuditLog.actor == f"agent:{admin_id}")).all()
        assert s.get(User, other_id).role == UserRole.SUPERVISOR and s.get(User, other_id).active
    assert actions == ["user.disabled", "user.enabled", "user.role_changed"]


def test_a_password_reset_ends_the_persons_sessions(db: Database) -> None:
    admin_id = make_user(db, "admin")
    agent_id = make_user(db, "agent", email="bia@regua.example", name="Bia Lima")
    with db.session() as s:
        token = s.get(User, agent_id).session_token
        people.reset_password(s, s.get(User, admin_id), agent_id, NEW_PASSWORD)
        assert s.get(User, agent_id).session_token != token
        assert accounts.authenticate(s, "bia@regua.example", NEW_PASSWORD) is not None


def test_resolving_a_case_is_audited_under_the_person_and_can_resume_collection(
    db: Database, people: People
) -> None:
    agent_id = make_user(db, "agent")
    case_id = _case(db, people)
    with db.session() as s:
        agent = s.get(User, agent_id)
        assert [r.id for r in cases.open_rows(s, agent)] == [case_id]
        assert cases.open_count(s) == 1
        with pytest.raises(cases.CaseError):
            cases.resolve(s, agent, case_id, note="  ", resume_collection=True)
        cases.resolve(s, agent, case_id, note="Contestação improcedente", resume_collection=True)
        with pytest.raises(cases.CaseError, match="já está encerrado"):
            cases.resolve(s, agent, case_id, note="de novo", resume_collection=False)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case.status == CaseStatus.RESOLVED and case.invoice.pause_reason is None
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "case.resolved")).one()
        assert audit.actor == f"agent:{agent_id}"


def test_the_cases_page_lists_open_cases_and_resolves_one_with_a_csrf_token(
    app: Flask, db: Database, people: People
) -> None:
    make_user(db, "agent")
    case_id = _case(db, people)
    client = _logged_in(app, "ana@regua.example")
    page = client.get("/console/casos/").get_data(as_text=True)
    assert "Contestação" in page and "Maria da Silva" in page and "Loja Exemplo" in page
    assert "Casos <b>1</b>" in client.get("/console/").get_data(as_text=True)
    refused = client.post(f"/console/casos/{case_id}/resolver", data={"note": "ok"})
    assert refused.status_code == 400
    with db.session() as s:
        assert s.get(Case, case_id).status == CaseStatus.OPEN
    done = client.post(
        f"/console/casos/{case_id}/resolver",
        data={"csrf_token": _token(client, "/console/casos/"), "note": "Pagamento conferido"},
        follow_redirects=True,
    )
    assert f"Caso {case_id} encerrado." in done.get_data(as_text=True)
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case.status == CaseStatus.RESOLVED and case.invoice.pause_reason == "dispute"


def test_only_admins_reach_the_people_page(app: Flask, db: Database) -> None:
    make_user(db, "supervisor")
    make_user(db, "admin", email="root@regua.example", name="Rita Admin")
    supervisor = _logged_in(app, "ana@regua.example")
    assert supervisor.get("/console/pessoas/").status_code == 403
    assert "Pessoas" not in supervisor.get("/console/").get_data(as_text=True)
    admin = _logged_in(app, "root@regua.example")
    page = admin.get("/console/pessoas/").get_data(as_text=True)
    assert "ana@regua.example" in page and "Supervisor(a)" in page


def test_an_admin_adds_a_person_in_the_browser_and_a_weak_password_is_explained(
    app: Flask, db: Database
) -> None:
    make_user(db, "admin")
    client = _logged_in(app, "ana@regua.example")
    form = {"name": "Bia Lima", "email": "bia@regua.example", "role": "agent", "password": "123456"}
    assert client.post("/console/pessoas/", data=form).status_code == 400  # no CSRF token
    form["csrf_token"] = _token(client, "/console/pessoas/")
    weak = client.post("/console/pessoas/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "senha" in weak.lower() and "foi cadastrado" not in weak
    form["password"] = NEW_PASSWORD
    done = client.post("/console/pessoas/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Bia Lima foi cadastrado(a)" in done
    with db.session() as s:
        assert accounts.authenticate(s, "bia@regua.example", NEW_PASSWORD) is not None


def test_an_admin_disabling_themself_in_the_browser_gets_a_clear_message(app: Flask, db: Database) -> None:
    admin_id = make_user(db, "admin")
    client = _logged_in(app, "ana@regua.example")
    page = client.post(
        f"/console/pessoas/{admin_id}/acesso",
        data={"csrf_token": _token(client, "/console/pessoas/"), "active": "0"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Você não pode desativar o seu próprio acesso" in page
    with db.session() as s:
        assert s.get(User, admin_id).active
