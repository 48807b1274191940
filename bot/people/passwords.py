"""Password hashes (argon2id, via argon2-cffi) and the rules a new password must meet.

The hasher's parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB);
a hash made with older parameters is re-made at the next successful login (`needs_rehash`).

Rules (NIST SP 800-63B style: length and a blocklist, no forced symbols): 12 to 128 characters, not a
well-known password, not one character or a short pattern repeated, not the person's e-mail or name.
The messages are pt-BR: the person choosing the password reads them.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long whether or not the person exists.
_DUMMY_HASH = _hasher.hash("regua-no-such-person")

# Passwords (and stems) at the top of every leaked-password list, Brazilian favourites included; a
# password is refused when, without digits and symbols, it is one of these.
_COMMON = {
    "password",
    "senha",
    "qwerty",
    "qwertyuiop",
    "abc",
    "abcdef",
    "abcdefgh",
    "iloveyou",
    "admin",
    "administrador",
    "letmein",
    "welcome",
    "bemvindo",
    "brasil",
    "flamengo",
    "corinthians",
    "palmeiras",
    "saopaulo",
    "vasco",
    "gremio",
    "cruzeiro",
    "regua",
    "cobranca",
    "mudar",
    "mudarsenha",
    "trocar",
    "minhasenha",
    "teste",
    "test",
}


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (with its parameters and a random salt)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash`. With no hash (unknown person) a dummy hash is
    checked, so the answer takes as long either way."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with parameters older than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def _repeats(value: str) -> bool:
    n = len(value)
    return any(value == (value[:p] * (n // p + 1))[:n] for p in range(1, min(n // 2, 4) + 1))


def weakness(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why `password` may not be used (a polite pt-BR sentence), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"A senha precisa ter pelo menos {MIN_LENGTH} caracteres."
    if len(password) > MAX_LENGTH:
        return f"A senha pode ter no máximo {MAX_LENGTH} caracteres."
    lowered = password.lower()
    letters = re.sub(r"[^a-z]", "", lowered)
    if len(set(password)) < 5 or _repeats(lowered) or (lowered.isdigit() and _sequence(lowered)):
        return "A senha é previsível demais (caracteres repetidos ou em sequência). Escolha outra, por favor."
    if letters in _COMMON or lowered.strip("0123456789!@#$%&*.") in _COMMON:
        return "Essa senha é muito comum e fácil de adivinhar. Escolha outra, por favor."
    person = [email.split("@")[0].lower(), *(part.lower() for part in name.split() if len(part) >= 4)]
    if any(len(part) >= 4 and part in lowered for part in person):
        return "A senha não pode conter o seu nome ou o seu e-mail. Escolha outra, por favor."
    return None


def _sequence(digits: str) -> bool:
    return digits in "01234567890123456789" or digits in "98765432109876543210"
