"""Flask extensions attached with `init_app`: the database and Redis, one per app, created lazily; the
console's logins (Flask-Login), CSRF protection (Flask-WTF) and login rate limits."""

from __future__ import annotations

from datetime import timedelta

import redis
from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from bot import redis_client
from bot.breaker import CircuitBreaker
from bot.channels import make_sender
from bot.config import Settings
from bot.conversation.abuse import InboundRateLimiter
from bot.conversation.spool import Spool
from bot.db import Database
from bot.nlu_serving import routing
from bot.people.login_limits import LoginLimiter
from bot.runtime import RqLater, Services

# The web process's Rasa timeout (the workers use RASA_TIMEOUT_SECONDS): see webhooks.twilio.
INLINE_RASA_TIMEOUT_SECONDS = 5.0


def settings() -> Settings:
    """The `Settings` of the current app."""
    return current_app.extensions["regua_settings"]


class DatabaseExtension:
    """Owns the app's `Database`; hands out one session per request, closed at teardown."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        """Create the engine for `settings` and register the per-request teardown."""
        app.extensions["regua_db"] = Database(settings.effective_database_url)
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def database() -> Database:
        """The current app's `Database`."""
        return current_app.extensions["regua_db"]

    @staticmethod
    def database_of(app: Flask) -> Database:
        """`app`'s `Database`, for code running outside its contexts (a background thread)."""
        return app.extensions["regua_db"]

    def session(self) -> Session:
        """The request's session (created on first use)."""
        if "db_session" not in g:
            g.db_session = self.database().sessionmaker()
        return g.db_session

    @staticmethod
    def _teardown(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


class RedisExtension:
    """Owns the app's Redis client (the configured server, or the embedded one started on demand)."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        """Remember the settings; the connection is made on first use so start-up never blocks on Redis."""
        app.extensions["regua_redis_settings"] = settings

    @staticmethod
    def client() -> redis.Redis:
        """The current app's Redis client."""
        ext = current_app.extensions
        if "regua_redis" not in ext:
            ext["regua_redis"] = redis_client.connect(ext["regua_redis_settings"])
        return ext["regua_redis"]


class ConversationsExtension:
    """What the Twilio webhooks need besides the database: the inbound rate limiter, the spool, and the
    services used to answer inline. Built on first use.

    Every Redis call on the inline path (rate limit, spool, enqueue) uses short timeouts and no retries
    (`redis_client.inline_options`) behind one circuit breaker per app, so a hung Redis costs the first
    few requests one short timeout each and later ones nothing (bot.breaker)."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        """Remember the settings."""
        app.extensions["regua_conversations_settings"] = settings

    @staticmethod
    def breaker() -> CircuitBreaker:
        """The app's circuit breaker for Redis on the inline path."""
        ext = current_app.extensions
        if "regua_redis_breaker" not in ext:
            settings = ext["regua_conversations_settings"]
            ext["regua_redis_breaker"] = CircuitBreaker(
                "Redis", settings.redis_breaker_failures, settings.redis_breaker_cooldown_seconds
            )
        return ext["regua_redis_breaker"]

    @staticmethod
    def inline_redis() -> redis.Redis:
        """The app's Redis client for the inline path (short timeouts, no retries)."""
        ext = current_app.extensions
        if "regua_inline_redis" not in ext:
            ext["regua_inline_redis"] = redis_client.connect_inline(ext["regua_conversations_settings"])
        return ext["regua_inline_redis"]

    @classmethod
    def limiter(cls) -> InboundRateLimiter:
        """The app's per-number inbound rate limiter."""
        ext = current_app.extensions
        if "regua_limiter" not in ext:
            settings = ext["regua_conversations_settings"]
            ext["regua_limiter"] = InboundRateLimiter(
                settings, redis_client.redis_url(settings, start_embedded=False), cls.breaker()
            )
        return ext["regua_limiter"]

    @classmethod
    def spool(cls) -> Spool:
        """The app's inbound spool (bot.conversation.spool): the Redis list, else the file under
        var/spool/."""
        ext = current_app.extensions
        if "regua_spool" not in ext:
            settings = ext["regua_conversations_settings"]
            ext["regua_spool"] = Spool(cls.inline_redis(), settings.var_dir / "spool", cls.breaker())
        return ext["regua_spool"]

    @classmethod
    def later(cls) -> RqLater:
        """RQ follow-ups from the web process, through the inline client and the breaker."""
        ext = current_app.extensions
        if "regua_later" not in ext:
            ext["regua_later"] = RqLater(cls.inline_redis(), cls.breaker())
        return ext["regua_later"]

    @classmethod
    def services(cls) -> Services:
        """Services for processing a conversation inside a request (the fallback when Redis is down)."""
        ext = current_app.extensions
        if "regua_services" not in ext:
            settings = ext["regua_conversations_settings"]
            ext["regua_services"] = Services(
                settings=settings,
                database=DatabaseExtension.database(),
                # Shorter than the workers' timeout: an inline turn must leave the webhook inside Twilio's
                # 15 seconds; a message Rasa is too slow for is retried by a worker with the full timeout.
                rasa=routing.routed_client(
                    settings,
                    DatabaseExtension.database(),
                    min(settings.rasa_timeout_seconds, INLINE_RASA_TIMEOUT_SECONDS),
                ),
                sender=make_sender(settings),
                later=cls.later(),
            )
        return ext["regua_services"]


class ConsoleExtension:
    """What the console's pages need: CSRF on every form (`csrf`; the signed Twilio and payment webhooks
    are exempted where they are registered), Flask-Login sessions (`login_manager`, set up by
    webhooks.auth) with cookies that are HttpOnly, SameSite=Lax and, in production, Secure, and the
    login rate limiter."""

    def __init__(self) -> None:
        self.csrf = CSRFProtect()
        self.login_manager = LoginManager()

    def init_app(self, app: Flask, settings: Settings) -> None:
        """Configure the session cookie and attach CSRF protection and Flask-Login to `app`."""
        app.config.update(
            SESSION_COOKIE_NAME="regua_session",
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=settings.env == "production",
            # The cookie's own lifetime is the idle limit (renewed by every request of the person's own);
            # webhooks.auth also checks both limits on the server, an old copy of a cookie is worth nothing.
            PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.console_idle_minutes),
            # Only a response that changed the session sets the cookie. Otherwise a background poll that
            # started before a form was sent answers after it with the older session, and the browser
            # keeps that copy: the form's flash message (or any other change) would be lost.
            SESSION_REFRESH_EACH_REQUEST=False,
            # A form's token lives as long as a session may: a login page left open is still usable.
            WTF_CSRF_TIME_LIMIT=settings.console_session_hours * 3600,
            WTF_CSRF_SSL_STRICT=False,  # the Referer check: our pages send no Referer (Referrer-Policy)
        )
        app.extensions["regua_console_settings"] = settings
        self.csrf.init_app(app)
        self.login_manager.init_app(app)

    @staticmethod
    def login_limiter() -> LoginLimiter:
        """The app's login rate limiter (Redis through the inline client's breaker, else memory)."""
        ext = current_app.extensions
        if "regua_login_limiter" not in ext:
            settings = ext["regua_console_settings"]
            ext["regua_login_limiter"] = LoginLimiter(
                settings,
                redis_client.redis_url(settings, start_embedded=False),
                ConversationsExtension.breaker(),
            )
        return ext["regua_login_limiter"]


db = DatabaseExtension()
redis_ext = RedisExtension()
conversations = ConversationsExtension()
console = ConsoleExtension()
