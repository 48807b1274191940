"""Personal data never reaches error texts: database errors, RQ's failed-job registry, logged tracebacks
(issue 14 §3)."""

from __future__ import annotations

import logging
import sys
import traceback

import pytest
import redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from sqlalchemy.exc import IntegrityError

from bot import runtime, worker
from bot.config import Settings
from bot.db import Database
from bot.logging_setup import RedactSecrets, ScrubbingFormatter
from bot.models import Debtor
from bot.redaction import scrub
from tests.conftest import CPF, PHONE, People

OTHER_PHONE = "+5521912345678"
BODY = "meu salário atrasou, pago dia 15"
NAME = "Joana Pereira Souza"


def _duplicate_debtor() -> Debtor:
    """A debtor whose CPF is already taken (by the `people` fixture): a unique violation."""
    return Debtor(name=NAME, cpf=CPF, phone=OTHER_PHONE, notes=BODY)


def _nameless_debtor() -> Debtor:
    """A debtor without a name: a NOT NULL violation (PostgreSQL prints the whole failing row)."""
    return Debtor(name=None, cpf="11144477735", phone=OTHER_PHONE, notes=BODY)


def _assert_private(text: str) -> None:
    for value in (CPF, OTHER_PHONE, OTHER_PHONE.removeprefix("+"), BODY, NAME):
        assert value not in text, f"{value!r} leaked into: {text}"


@pytest.mark.parametrize("make", [_duplicate_debtor, _nameless_debtor])
def test_a_database_error_names_neither_the_bound_values_nor_the_row(
    db: Database, people: People, make
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError) as caught, db.session() as s:
        s.add(make())
        s.flush()
    text = "".join(traceback.format_exception(caught.value))  # with the driver's error it was raised from
    _assert_private(text)
    assert "debtors" in text or "cpf" in text or "name" in text  # what failed is still said
    if not db.is_sqlite:  # code that inspects the driver's structured error still can
        assert caught.value.orig.diag.constraint_name or caught.value.orig.diag.column_name  # type: ignore[union-attr]


def store_a_debtor_twice(database_url: str) -> None:
    """An RQ job that fails on a database error carrying personal data."""
    database = Database(database_url)
    try:
        with database.session() as s:
            s.add(_duplicate_debtor())
    finally:
        database.dispose()


def send_to_a_refused_number() -> None:
    """An RQ job failing like a Twilio send, whose error echoes the phone number."""
    raise RuntimeError(f"Unable to create record: The 'To' number whatsapp:{OTHER_PHONE} is not valid")


@pytest.mark.parametrize(
    ("job_function", "args"), [(store_a_debtor_twice, "db"), (send_to_a_refused_number, None)]
)
def test_a_failed_job_keeps_no_personal_data_in_the_failed_job_registry(
    settings: Settings, db: Database, people: People, redis_conn: redis.Redis, job_function, args
) -> None:  # type: ignore[no-untyped-def]
    call_args = (settings.effective_database_url,) if args == "db" else ()
    job = runtime.queue(redis_conn).enqueue(job_function, *call_args, failure_ttl=600)
    worker.run(settings, burst=True)
    job = Job.fetch(job.id, connection=redis_conn)
    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=runtime.queue(redis_conn)).get_job_ids()
    stored = job.latest_result().exc_string  # type: ignore[union-attr]
    assert ("IntegrityError" if args == "db" else "RuntimeError") in stored
    _assert_private(stored)


def test_logged_messages_and_tracebacks_mask_personal_data() -> None:
    try:
        raise RuntimeError(f'duplicate key\nDETAIL:  Key (phone)=({OTHER_PHONE}) already exists. "{BODY}"')
    except RuntimeError:
        record = logging.LogRecord(
            "bot.test",
            logging.ERROR,
            __file__,
            1,
            "send to %s failed",
            (f"whatsapp:{OTHER_PHONE}",),
            sys.exc_info(),
        )
    RedactSecrets([]).filter(record)
    text = ScrubbingFormatter("%(message)s").format(record)
    assert OTHER_PHONE not in text and "send to whatsapp:*** failed" in text
    assert "Key (phone)=(***) already exists" in text


def test_scrub_keeps_what_makes_an_error_fixable() -> None:
    constraint = 'duplicate key value violates unique constraint "uq_debtors_cpf"\n'
    detail = constraint + "DETAIL:  Key (cpf)=(52998224725) already exists."
    assert scrub(detail) == constraint + "DETAIL:  Key (cpf)=(***) already exists."
    row = "Failing row contains (1, null, 529.982.247-25, (11) 98765-4321)."
    assert scrub(row) == "Failing row contains (***)."
    assert scrub("job 42 took 1733456 ms; invoice F-1") == "job 42 took 1733456 ms; invoice F-1"
    assert PHONE not in scrub(f"to {PHONE}") and "529.982.247-25" not in scrub("cpf 529.982.247-25")
