"""The results dashboard (/console/resultados) in the browser's shoes: who may see it, the filters, the
"sem dados" of an empty period, and CSV exports safe from formula injection."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.analytics.daily import refresh
from bot.db import Database
from bot.experiments import WINNER_DECLARED
from bot.models import AuditLog, Creditor
from bot.reminders.planner import cadence_for
from tests.unit import analytics_data
from tests.unit.console_people import log_in, make_user

MARCH = "de=2026-03-01&ate=2026-03-31"
STEP = "acompanhamento_d+1"  # the default cadence's experiment (variants a and b)


@pytest.fixture
def data(db: Database) -> analytics_data.DataSet:
    built = analytics_data.build(db)
    with db.session() as s:
        refresh(s, date(2026, 2, 1), date(2026, 4, 5), datetime(2026, 4, 10, 15, 30, tzinfo=UTC))
        s.commit()
    return built


def _client(app: Flask, db: Database, role: str = "supervisor") -> FlaskClient:
    email = f"{role}@regua.example"
    make_user(db, role, email, role.title())
    client = app.test_client()
    log_in(client, email)
    return client


def _csv_rows(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


@pytest.mark.parametrize("role", ["agent", "ops"])
def test_agents_and_nlu_operators_may_not_see_the_results_nor_their_link(
    app: Flask, db: Database, role
) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db, role)
    assert client.get(f"/console/resultados/?{MARCH}").status_code == 403
    assert client.get(f"/console/resultados/indicadores.csv?{MARCH}").status_code == 403
    assert "nav-results" not in client.get("/console/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_see_the_month_with_its_freshness_in_brasilia_time(
    app: Flask, db: Database, data, role
) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db, role)
    assert "nav-results" in client.get("/console/").get_data(as_text=True)
    html = client.get(f"/console/resultados/?{MARCH}").get_data(as_text=True)
    assert "10/04/2026 às 12:30" in html  # 15:30 UTC
    assert "R$ 100,00" in html  # c5's last-touch payment (i5's R$ 80 came after a failed reminder, c6)
    assert "Loja B Ltda" in html and 'data-testid="table-credores"' in html
    assert "<svg" in html and "http" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )


def test_filtering_a_creditor_shows_only_its_reminders(app: Flask, db: Database, data) -> None:
    client = _client(app, db)
    html = client.get(f"/console/resultados/?{MARCH}&credor={data.creditor_b}").get_data(as_text=True)
    assert "Loja B Ltda" in html and 'data-testid="table-credores"' not in html
    # Each table's CSV link keeps the filters.
    assert (
        f"/console/resultados/funil.csv?de=2026-03-01&amp;ate=2026-03-31&amp;credor={data.creditor_b}" in html
    )
    rows = _csv_rows(client.get(f"/console/resultados/funil.csv?{MARCH}&credor={data.creditor_b}").data)
    assert rows[0] == ["Etapa", "Contatos", "% dos enviados"]
    assert rows[1] == ["Enviados", "1", "100,0 %"] and rows[2] == ["Entregues", "0", "0,0 %"]


def test_a_period_without_reminders_says_sem_dados_never_zero(app: Flask, db: Database, data) -> None:
    client = _client(app, db)
    html = client.get("/console/resultados/?de=2026-06-01&ate=2026-06-30").get_data(as_text=True)
    assert 'data-testid="no-data"' in html and "0,0 %" not in html
    rows = _csv_rows(client.get("/console/resultados/indicadores.csv?de=2026-06-01&ate=2026-06-30").data)
    assert rows[1][:2] == ["Taxa de entrega", "sem dados"]


def test_a_bad_period_is_explained_and_the_current_month_shown(app: Flask, db: Database) -> None:
    client = _client(app, db)
    response = client.get("/console/resultados/?de=2026-03-31&ate=2026-03-01")
    assert response.status_code == 400
    assert "A data final é anterior à inicial." in response.get_data(as_text=True)
    assert client.get("/console/resultados/passos.csv?de=ontem").status_code == 400
    assert client.get(f"/console/resultados/nada.csv?{MARCH}").status_code == 404


def test_a_csv_export_is_semicolon_separated_utf8_and_cannot_carry_a_formula(
    app: Flask, db: Database, data
) -> None:
    with db.session() as s:
        s.get_one(Creditor, data.creditor_b).legal_name = '=HYPERLINK("http://x","clique")'
        s.get_one(Creditor, data.creditor_a).legal_name = "@SUM(1+1)"
        s.commit()
    client = _client(app, db)
    response = client.get(f"/console/resultados/credores.csv?{MARCH}")
    assert response.mimetype == "text/csv"
    assert "resultados-credores-20260301-20260331.csv" in response.headers["Content-Disposition"]
    rows = _csv_rows(response.data)
    assert rows[0][:2] == ["Credor", "Contatos"]
    assert sorted(row[0] for row in rows[1:]) == ['\'=HYPERLINK("http://x","clique")', "'@SUM(1+1)"]


def test_the_experiments_section_lists_the_variants_of_each_step_sent_in_more_than_one(
    app: Flask, db: Database, data
) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db)
    html = client.get(f"/console/resultados/?{MARCH}").get_data(as_text=True)
    assert 'data-testid="experiments"' in html
    rows = _csv_rows(client.get(f"/console/resultados/experimentos.csv?{MARCH}").data)
    # d1 went out in variants a (c1, c6), b (c2) and none (c3, c4); d5 in one variant only.
    assert [row[:3] for row in rows[1:]] == [["d1", "a", "2"], ["d1", "b", "1"], ["d1", "(nenhum)", "2"]]


def test_with_a_creditor_chosen_each_experiment_of_its_cadence_has_a_readout(
    app: Flask, db: Database, data
) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db)
    html = client.get(f"/console/resultados/?{MARCH}&credor={data.creditor_a}").get_data(as_text=True)
    # The default cadence's experiment (acompanhamento_d+1, variants a and b) sent nothing in March.
    assert 'data-testid="readout-acompanhamento_d+1"' in html
    assert "ainda não há dados suficientes" in html
    rows = _csv_rows(
        client.get(f"/console/resultados/analise-experimentos.csv?{MARCH}&credor={data.creditor_a}").data
    )
    assert rows[0] == [
        "Passo",
        "Braço",
        "Contatos",
        "Pagaram",
        "Recuperação",
        "Intervalo de confiança",
        "Conclusão",
    ]
    assert [row[:3] for row in rows[1:]] == [
        ["acompanhamento_d+1", "a (controle)", "0"],
        ["acompanhamento_d+1", "b", "0"],
    ]
    everyone = client.get(f"/console/resultados/?{MARCH}").get_data(as_text=True)
    assert "Escolha um credor no filtro" in everyone and "readout-" not in everyone


def _declare(client: FlaskClient, creditor_id: int, page: str, **form: str):  # type: ignore[no-untyped-def]
    """Post the declare form with the CSRF token of `page` (the dashboard, or for an agent the queue)."""
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html
    return client.post(
        f"/console/resultados/experimentos/{creditor_id}/{STEP}/vencedora",
        data={"csrf_token": token.group(1), "de": "2026-03-01", "ate": "2026-03-31", **form},
    )


def _variants(db: Database, creditor_id: int) -> list[str]:
    with db.session() as s:
        return [v.id for v in cadence_for(s.get_one(Creditor, creditor_id)).step(STEP).variants]


def test_the_declare_form_waits_for_enough_data(app: Flask, db: Database, data) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db)
    html = client.get(f"/console/resultados/?{MARCH}&credor={data.creditor_a}").get_data(as_text=True)
    assert "ainda não há dados suficientes" in html and 'data-testid="declare-' not in html


def test_a_supervisor_declares_a_winner_once_confirmed_and_the_cadence_keeps_only_it(
    app: Flask, db: Database, data
) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, db)
    page = f"/console/resultados/?{MARCH}&credor={data.creditor_a}"
    refused = _declare(client, data.creditor_a, page, variant="b")  # the confirmation box left empty
    assert "#experimentos" in refused.headers["Location"]
    assert "confirme que a régua" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert _variants(db, data.creditor_a) == ["a", "b"]

    done = _declare(client, data.creditor_a, page, variant="b", confirm="1")
    assert "A variante b venceu" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert _variants(db, data.creditor_a) == []
    with db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == WINNER_DECLARED)).one()
        assert audit.actor.startswith("agent:")


def test_an_agent_cannot_declare_a_winner_even_by_posting_the_form(app: Flask, db: Database, data) -> None:  # type: ignore[no-untyped-def]
    agent = _client(app, db, "agent")
    _declare(agent, data.creditor_a, "/console/", variant="b", confirm="1")
    assert _variants(db, data.creditor_a) == ["a", "b"]
