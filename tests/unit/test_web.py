"""The app factory, `/health/ready`, the landing page and the single place that maps errors to responses."""

from __future__ import annotations

import pytest
from flask import Flask, request

from bot.config import Settings, override
from bot.db import Database
from bot.models import Creditor
from webhooks import create_app
from webhooks.extensions import console


@pytest.fixture
def app(settings: Settings, db: Database) -> Flask:
    return create_app(override(settings, rasa_url="http://127.0.0.1:9"))  # nothing listens on port 9


def test_readiness_ok_when_database_and_redis_answer(app: Flask) -> None:
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    # Rasa down is reported but does not make the web process unhealthy: messages are still stored.
    assert body["checks"]["rasa"]["ok"] is False


def test_readiness_503_when_redis_is_down(settings: Settings, db: Database) -> None:
    app = create_app(override(settings, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_readiness_503_when_schema_is_behind(settings: Settings, tmp_path) -> None:
    app = create_app(override(settings, database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert "regua db upgrade" in response.get_json()["checks"]["database"]["detail"]


def test_the_home_page_tells_an_anonymous_visitor_nothing_about_the_portfolio(
    app: Flask, db: Database
) -> None:
    with db.session() as s:
        s.add(Creditor(legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC"))
    response = app.test_client().get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="pt-BR"' in html and "Régua" in html
    for revealing in ("Credores", "Devedores", "Faturas", "<dd>", "127.0.0.1", "/health", "sandbox", "5005"):
        assert revealing not in html


def test_errors_in_portuguese_json_for_api_and_html_for_people(app: Flask) -> None:
    client = app.test_client()
    api = client.get("/webhooks/nada")
    assert api.status_code == 404 and api.get_json()["message"] == "Página não encontrada."
    page = client.get("/nada", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Página não encontrada." in page.get_data(as_text=True)


def test_unexpected_error_is_a_polite_500(app: Flask) -> None:
    @app.get("/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail")

    response = app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert "secret detail" not in response.get_data(as_text=True)
    assert response.get_json()["error"] == "internal_server_error"


def test_request_size_limit(app: Flask) -> None:
    @app.post("/echo")
    @console.csrf.exempt  # a stand-in for a signed webhook: no browser form, no CSRF token
    def echo():  # type: ignore[no-untyped-def]
        return {"fields": len(request.form)}

    client = app.test_client()
    assert client.post("/echo", data={"Body": "oi"}).get_json() == {"fields": 1}
    response = client.post("/echo", data={"Body": "x" * (300 * 1024)}, headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["message"] == "A requisição é grande demais."


def test_create_app_accepts_flask_config_mapping(settings: Settings, db: Database) -> None:
    app = create_app({"REGUA_SETTINGS": settings, "SOME_FLAG": True})
    assert app.config["SOME_FLAG"] is True
    assert app.extensions["regua_settings"] is settings
