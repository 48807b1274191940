"""The payment page's copy buttons are recorded (POST /p/<token>/copiado), from the page's own script only."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update

from bot.config import Settings
from bot.db import Database
from bot.logging_setup import mask_tokens
from bot.models import Invoice, PageEvent, PaymentLink, PaymentPageEvent, utcnow
from bot.payments import links
from tests.conftest import People

JSON = {"Content-Type": "application/json"}


def _token(db: Database, settings: Settings) -> str:
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        return links.link_for(s, settings, invoice=invoice).token


def _events(db: Database) -> list[str]:
    with db.session() as s:
        return [
            event.kind.value for event in s.scalars(select(PaymentPageEvent).order_by(PaymentPageEvent.id))
        ]


def test_the_page_script_reports_each_copy_and_it_is_stored_with_its_kind(
    app: Flask, db: Database, people: People, settings: Settings
) -> None:
    token = _token(db, settings)
    client = app.test_client()
    html = client.get(f"/p/{token}").get_data(as_text=True)
    assert 'data-event="pix_copied"' in html and 'data-event="line_copied"' in html
    for kind in ("pix_copied", "line_copied"):
        response = client.post(
            f"/p/{token}/copiado", json={"kind": kind}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert response.status_code == 204
        assert response.headers["Cache-Control"] == "no-store"
    assert _events(db) == ["pix_copied", "line_copied"]


def test_a_form_or_another_site_cannot_record_a_copy(
    app: Flask, db: Database, people: People, settings: Settings
) -> None:
    token = _token(db, settings)
    client = app.test_client()
    url = f"/p/{token}/copiado"
    # A cross-site form can send only form encodings (JSON needs a CORS preflight this app never grants).
    assert client.post(url, data={"kind": "pix_copied"}).status_code == 403
    assert (
        client.post(url, json={"kind": "pix_copied"}, headers={"Sec-Fetch-Site": "cross-site"}).status_code
        == 403
    )
    assert (
        client.post(url, json={"kind": "pix_copied"}, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    assert (
        client.post(url, json={"kind": "pix_copied"}, headers={"Origin": "http://localhost"}).status_code
        == 204
    )
    assert _events(db) == ["pix_copied"]


def test_an_unknown_kind_an_unknown_link_or_an_expired_one_records_nothing(
    app: Flask, db: Database, people: People, settings: Settings
) -> None:
    token = _token(db, settings)
    client = app.test_client()
    assert client.post(f"/p/{token}/copiado", json={"kind": "qr_scanned"}).status_code == 400
    assert client.post(f"/p/{token}/copiado", json=["pix_copied"]).status_code == 400
    assert client.post("/p/not-a-token/copiado", json={"kind": "pix_copied"}).status_code == 404
    with db.session() as s:
        s.execute(update(PaymentLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert client.post(f"/p/{token}/copiado", json={"kind": "pix_copied"}).status_code == 404
    assert _events(db) == []


def test_a_link_stops_recording_a_kind_after_the_cap(
    db: Database, people: People, settings: Settings
) -> None:
    token = _token(db, settings)
    with db.session() as s:
        stored = [links.record_copy(s, token, PageEvent.PIX_COPIED) for _ in range(links.MAX_COPY_EVENTS + 1)]
        s.flush()
        assert links.record_copy(s, token, PageEvent.LINE_COPIED)
    assert stored == [True] * links.MAX_COPY_EVENTS + [False]
    assert _events(db).count("pix_copied") == links.MAX_COPY_EVENTS


def test_the_token_of_a_copy_event_never_reaches_a_log() -> None:
    assert mask_tokens("POST /p/s3cr3t-token/copiado HTTP/1.1") == "POST /p/***/copiado HTTP/1.1"
