"""The console benchmark's data: a PostgreSQL database at the newest migration holding a production-sized
book (conversations, messages, debtors, invoices) and the console's people, written with set-based
`INSERT ... SELECT generate_series` statements (a million messages in well under a minute), and skipped
when the data is already there.

Who is where: 2 % of the conversations wait for a person, 1 % are owned by one of the agents (spread
evenly, so each agent has the same share), the rest are the bot's. A conversation handed over has a long
thread (`LONG_THREAD` messages, the last ones the owning agent's); the bot's share the other messages.
Every debtor has one or two invoices with one of three creditors, most of them open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, make_url

from bot import migrations
from bot.db import Database
from bot.models import Conversation, ConversationState, Message, User, UserRole
from bot.people import accounts

LONG_THREAD = 60  # messages in each conversation handed over to a person
PASSWORD = "Console-bench-2026!"  # every bench person's (a scratch database, never a real one)
BY = "bench:console"


@dataclass(frozen=True)
class Sizes:
    """How much data to seed."""

    conversations: int = 100_000
    messages: int = 1_000_000
    agents: int = 20


@dataclass(frozen=True)
class Person:
    """A console login of the bench: e-mail, id, and the conversations it owns (agents)."""

    email: str
    user_id: int
    owned: tuple[int, ...] = ()


def agent_email(n: int) -> str:
    """The e-mail of the bench's agent number `n` (1-based)."""
    return f"agente{n:02d}@bench.regua.example"


SUPERVISOR_EMAIL = "supervisora@bench.regua.example"


def ensure_database(url: str) -> None:
    """Create the database `url` names on its server when it does not exist yet."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if found.first() is None:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def is_seeded(database: Database, sizes: Sizes) -> bool:
    """True when the database already holds at least `sizes` (and the bench's people)."""
    with database.session() as session:
        conversations = session.scalar(select(func.count()).select_from(Conversation)) or 0
        messages = session.scalar(select(func.count()).select_from(Message)) or 0
        people = session.scalar(select(func.count()).select_from(User).where(User.email.like("%@bench.%")))
    return conversations >= sizes.conversations and messages >= sizes.messages and people >= sizes.agents + 1


def seed(url: str, sizes: Sizes, now: datetime) -> bool:
    """Migrate `url` to head and, unless `is_seeded`, fill it with `sizes`; True when it seeded."""
    migrations.upgrade(url)
    database = Database(url)
    try:
        if is_seeded(database, sizes):
            return False
        agent_ids = _add_people(database, sizes.agents)
        with database.engine.begin() as conn:
            _seed_book(conn, sizes, agent_ids, now)
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as a settled production database would be
        return True
    finally:
        database.dispose()


def people(database: Database, agents: int) -> tuple[list[Person], Person]:
    """The bench's agents (each with the conversations it owns, oldest request first) and its supervisor."""
    found = []
    with database.session() as session:
        for n in range(1, agents + 1):
            user = accounts.find(session, agent_email(n))
            if user is None:
                raise RuntimeError(f"{agent_email(n)} is missing: seed the database first")
            owned = session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.assigned_user_id == user.id,
                    Conversation.state == ConversationState.WITH_AGENT,
                )
                .order_by(Conversation.id)
            ).all()
            found.append(Person(user.email, user.id, tuple(owned)))
        supervisor = accounts.find(session, SUPERVISOR_EMAIL)
        if supervisor is None:
            raise RuntimeError(f"{SUPERVISOR_EMAIL} is missing: seed the database first")
        return found, Person(supervisor.email, supervisor.id)


def _add_people(database: Database, agents: int) -> list[int]:
    """The agents and the supervisor, through the product's own accounts service (argon2 and all)."""
    with database.session() as session:
        ids = []
        for n in range(1, agents + 1):
            user = accounts.add(
                session,
                email=agent_email(n),
                name=f"Agente {n:02d}",
                role=UserRole.AGENT,
                password=PASSWORD,
                by=BY,
            )
            ids.append(user.id)
        accounts.add(
            session,
            email=SUPERVISOR_EMAIL,
            name="Supervisora",
            role=UserRole.SUPERVISOR,
            password=PASSWORD,
            by=BY,
        )
        session.commit()
        return ids


# Debtor number i (1..N) is reached at +55 11 9 8xxx-xxxx (a mobile in its canonical 9-digit form).
_DEBTORS = """
INSERT INTO debtors (name, cpf, phone, whatsapp_id, state, timezone, whatsapp_consent_at, sms_consent_at,
                     verification_failures, created_at, updated_at)
SELECT (ARRAY['Ana','Bruno','Carla','Diego','Elaine','Fábio','Gabriela','Heitor','Iara','João'])[1 + i % 10]
       || ' '
       || (ARRAY['Silva','Souza','Oliveira','Santos','Lima','Pereira','Costa','Almeida'])[1 + (i / 10) % 8],
       cpf, '+55119' || (80000000 + i), '55119' || (80000000 + i), 'SP', 'America/Sao_Paulo',
       :now - interval '120 days', :now - interval '120 days', 0,
       :now - interval '120 days', :now - interval '120 days'
FROM unnest(CAST(:cpfs AS text[])) WITH ORDINALITY AS d(cpf, i)
"""

_CREDITORS = """
INSERT INTO creditors (legal_name, trade_name, cnpj, contact_channel, fine_bps, monthly_interest_bps,
                       claim_pause_days, created_at, updated_at)
SELECT 'Credora Bench ' || k || ' Ltda', 'Credora ' || k, cnpj, 'SAC 0800 000 000' || k,
       200, 100, 5, :now, :now
FROM unnest(CAST(:cnpjs AS text[])) WITH ORDINALITY AS c(cnpj, k)
"""

_INVOICES = """
INSERT INTO invoices (creditor_id, debtor_id, external_ref, description, amount_cents, due_date, status,
                      paid_at, created_at, updated_at)
SELECT c.ids[1 + (right(d.phone, 8)::int - 80000000) % 3], d.id,
       'BENCH-' || d.id || '-' || k, 'Mensalidade', 5000 + ((d.id * 7919 + k) % 95000),
       (:now)::date - ((d.id + k * 30) % 150)::int,
       CASE WHEN (d.id + k) % 5 = 0 THEN 'paid' ELSE 'open' END,
       CASE WHEN (d.id + k) % 5 = 0 THEN :now - interval '3 days' END, :now, :now
FROM debtors d
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM creditors WHERE legal_name LIKE 'Credora Bench %') c
CROSS JOIN generate_series(1, 2) AS k
WHERE k = 1 OR d.id % 2 = 0
"""

# 2 % waiting for a person, 1 % owned by an agent (round robin), the rest the bot's; 1 in 10 on SMS.
_CONVERSATIONS = """
INSERT INTO conversations (debtor_id, channel, address, state, our_address, last_inbound_at,
                           handoff_requested_at, handoff_reason, assigned_user_id, agent_activity_at,
                           created_at, updated_at)
SELECT d.id, CASE WHEN i % 10 = 3 THEN 'sms' ELSE 'whatsapp' END, d.phone,
       CASE WHEN i % 50 = 0 THEN 'waiting_agent' WHEN i % 100 = 1 THEN 'with_agent' ELSE 'bot' END,
       '+5511999990000', :now - ((i * 13) % 2880) * interval '1 minute',
       CASE WHEN i % 50 = 0 OR i % 100 = 1 THEN :now - ((i * 37) % 4320) * interval '1 minute' END,
       CASE WHEN i % 50 = 0 OR i % 100 = 1 THEN (ARRAY['asked','asked','asked','dispute','payment_claim',
            'misunderstood','complaint','legal_threat'])[1 + (i / 7) % 8] END,
       CASE WHEN i % 100 = 1 THEN (:agents)[1 + (i / 100) % cardinality(:agents)] END,
       CASE WHEN i % 100 = 1 THEN :now END,
       :now - interval '120 days', :now
FROM (SELECT id, phone, right(phone, 8)::int - 80000000 AS i FROM debtors WHERE phone LIKE '+551198%') d
ORDER BY i
"""

# One message of a thread: odd ones are the debtor's, even ones answers (the agent's in the last ten of a
# thread handed over, else the bot's); times go forward with the position.
_MESSAGE_COLUMNS = """
INSERT INTO messages (conversation_id, direction, channel, provider_sid, body, media, status, processing,
                      processed_at, sent_at, sent_by_user_id, attempts, created_at, updated_at)
"""
_MESSAGE_VALUES = """
SELECT c.id, CASE WHEN n % 2 = 1 THEN 'inbound' ELSE 'outbound' END, c.channel,
       'SMbench' || c.id || 'n' || n,
       CASE WHEN n % 2 = 1
            THEN (ARRAY['Oi, quanto eu devo?','Quero a segunda via do boleto','Já paguei ontem',
                        'Posso parcelar?','Quero falar com uma pessoa'])[1 + n % 5]
            ELSE (ARRAY['Olá! Sua fatura de março está em aberto.','Segue a segunda via.',
                        'Obrigado! Vamos conferir o pagamento.','Podemos parcelar em até 6 vezes.',
                        'Um atendente vai falar com você.'])[1 + n % 5] END,
       '[]'::jsonb, CASE WHEN n % 2 = 1 THEN 'received' ELSE 'delivered' END,
       CASE WHEN n % 2 = 1 THEN CASE WHEN c.state = 'bot' THEN 'done' ELSE 'for_agent' END END,
       CASE WHEN n % 2 = 1 THEN c.at + n * interval '1 minute' END,
       CASE WHEN n % 2 = 0 THEN c.at + n * interval '1 minute' END,
       CASE WHEN n % 2 = 0 AND c.state = 'with_agent' AND n > :long - 10 THEN c.assigned_user_id END,
       0, c.at + n * interval '1 minute', c.at + n * interval '1 minute'
"""
_LONG_THREADS = (
    _MESSAGE_COLUMNS
    + _MESSAGE_VALUES
    + """
FROM (SELECT id, channel, state, assigned_user_id, :now - interval '2 days' AS at
      FROM conversations WHERE state <> 'bot') c
CROSS JOIN generate_series(1, :long) AS n
ORDER BY c.id, n
"""
)
# The rest, spread evenly over the bot's conversations: message n of conversation r is number
# (n - 1) * bots + r of the `rest`.
_BOT_THREADS = (
    _MESSAGE_COLUMNS
    + _MESSAGE_VALUES
    + """
FROM (SELECT id, channel, state, assigned_user_id, :now - interval '30 days' AS at,
             row_number() OVER (ORDER BY id) - 1 AS r, count(*) OVER () AS bots
      FROM conversations WHERE state = 'bot') c
CROSS JOIN generate_series(1, GREATEST(1, CEIL(CAST(:rest AS numeric) / GREATEST(1, :bots))::int)) AS n
WHERE (n - 1) * c.bots + c.r < :rest
ORDER BY c.id, n
"""
)


def with_check_digits(base: str) -> str:
    """`base` (the first 9 digits of a CPF or 12 of a CNPJ) followed by its two check digits (mod 11)."""
    digits = base
    for _ in range(2):
        if len(base) == 9:  # CPF: weights 10.. (then 11..) down to 2
            weights = range(len(digits) + 1, 1, -1)
        else:  # CNPJ: 5 4 3 2 9 8 7 6 5 4 3 2 (then 6 5 4 3 2 9 ...)
            weights = [((len(digits) - 1 - k) % 8) + 2 for k in range(len(digits))]
        rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        digits += "0" if rest < 2 else str(11 - rest)
    return digits


def _seed_book(conn: Connection, sizes: Sizes, agent_ids: list[int], now: datetime) -> None:
    cpfs = [with_check_digits(f"{700_000_000 + i:09d}") for i in range(1, sizes.conversations + 1)]
    conn.execute(text(_DEBTORS), {"cpfs": cpfs, "now": now})
    cnpjs = [with_check_digits(f"9{k:07d}0001") for k in range(1, 4)]
    conn.execute(text(_CREDITORS), {"cnpjs": cnpjs, "now": now})
    conn.execute(text(_INVOICES), {"now": now})
    conn.execute(text(_CONVERSATIONS), {"now": now, "agents": agent_ids})
    handed = conn.scalar(text("SELECT count(*) FROM conversations WHERE state <> 'bot'")) or 0
    bots = conn.scalar(text("SELECT count(*) FROM conversations WHERE state = 'bot'")) or 0
    # A tiny book (the unit test) still keeps half of its messages for the bot's conversations.
    length = max(2, min(LONG_THREAD, sizes.messages // max(1, 2 * handed)))
    written = conn.execute(text(_LONG_THREADS), {"now": now, "long": length}).rowcount
    rest = max(0, sizes.messages - written)
    conn.execute(text(_BOT_THREADS), {"now": now, "long": length, "rest": rest, "bots": bots})
