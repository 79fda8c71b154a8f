"""Keycloak realm password policies: parsing the policy string and validating a new password.

Behaviour and messages follow Keycloak 26: ``server-spi-private/.../policy/*PasswordPolicyProvider``
(one ``PolicyError(messageKey, parameter)`` per policy, the first failing policy wins) and the admin
theme's ``messages_en.properties`` (the text ``UserResource.resetPassword`` puts in
``error_description``). Password history follows ``HistoryPasswordPolicyProvider`` and
``PasswordCredentialProvider``: ``passwordHistory(N)`` rejects the current password and the N-1 most
recent previous ones, and keeps N-1 previous passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Callable

HASH_ITERATIONS = 1000  # a lab: fast, still never stores the value itself

MESSAGES = {
    "invalidPasswordMinLengthMessage": "Invalid password: minimum length {0}.",
    "invalidPasswordMaxLengthMessage": "Invalid password: maximum length {0}.",
    "invalidPasswordMinLowerCaseCharsMessage": "Invalid password: must contain at least {0} lower case characters.",
    "invalidPasswordMinDigitsMessage": "Invalid password: must contain at least {0} numerical digits.",
    "invalidPasswordMinUpperCaseCharsMessage": "Invalid password: must contain at least {0} upper case characters.",
    "invalidPasswordMinSpecialCharsMessage": "Invalid password: must contain at least {0} special characters.",
    "invalidPasswordNotUsernameMessage": "Invalid password: must not be equal to the username.",
    "invalidPasswordNotContainsUsernameMessage": "Invalid password: Can not contain the username.",
    "invalidPasswordNotEmailMessage": "Invalid password: must not be equal to the email.",
    "invalidPasswordRegexPatternMessage": "Invalid password: fails to match regex pattern(s).",
    "invalidPasswordHistoryMessage": "Invalid password: must not be equal to any of last {0} passwords.",
}

# Policy id -> default parameter when the string gives none (the factories' DEFAULT_VALUE).
_INT_DEFAULTS = {
    "length": 8, "maxLength": 64, "digits": 1, "lowerCase": 1, "upperCase": 1, "specialChars": 1,
    "passwordHistory": 3, "hashIterations": 27500, "forceExpiredPasswordChange": 365, "maxAuthAge": 300,
    "passwordAge": 365,
}
_FLAG_POLICIES = {"notUsername", "notEmail", "notContainsUsername"}
# Accepted (a realm may carry them) but without effect on a reset in this emulator.
_IGNORED = {"hashIterations", "hashAlgorithm", "forceExpiredPasswordChange", "passwordBlacklist",
            "maxAuthAge", "passwordAge"}
KNOWN_POLICIES = set(_INT_DEFAULTS) | _FLAG_POLICIES | {"regexPattern", "hashAlgorithm", "passwordBlacklist"}

_TOKEN = re.compile(r"^\s*([A-Za-z]+)\s*(?:\((.*)\))?\s*$")


class PolicyViolation(Exception):
    """A password rejected by the realm policy: Keycloak's message key and formatted text."""

    def __init__(self, key: str, parameter: int | None = None) -> None:
        self.key = key
        self.parameter = parameter
        text = MESSAGES[key]
        if parameter is not None:
            # java.text.MessageFormat formats integers with grouping separators.
            text = text.replace("{0}", f"{parameter:,}")
        self.text = text
        super().__init__(text)


@dataclass(frozen=True)
class PasswordHash:
    """A stored password credential: salted PBKDF2, never the value."""

    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, password: str) -> PasswordHash:
        salt = secrets.token_bytes(16)
        return cls(salt, hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, HASH_ITERATIONS))

    def matches(self, password: str) -> bool:
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), self.salt, HASH_ITERATIONS)
        return hmac.compare_digest(candidate, self.digest)


class PasswordPolicy:
    """A parsed ``passwordPolicy`` string such as ``length(12) and digits(1) and passwordHistory(3)``."""

    def __init__(self, policy: str | None = None) -> None:
        self.text = (policy or "").strip()
        self.rules: list[tuple[str, int | str | None]] = []
        if not self.text:
            return
        for token in re.split(r"\s+and\s+", self.text):
            match = _TOKEN.match(token)
            if not match:
                raise ValueError(f"invalid password policy element {token!r} in {self.text!r}")
            name, raw = match.group(1), match.group(2)
            if name not in KNOWN_POLICIES:
                raise ValueError(f"unknown password policy {name!r}; known: {', '.join(sorted(KNOWN_POLICIES))}")
            self.rules.append((name, self._parameter(name, raw)))

    @staticmethod
    def _parameter(name: str, raw: str | None) -> int | str | None:
        raw = None if raw is None or raw.strip() in ("", "undefined") else raw.strip()
        if name in _INT_DEFAULTS:
            if raw is None:
                return _INT_DEFAULTS[name]
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"Invalid config for {name}: must be a number, got {raw!r}") from None
        if name == "regexPattern":
            if raw is None:
                raise ValueError("Invalid config for regexPattern: a pattern is required")
            re.compile(raw)
            return raw
        return raw

    def value(self, name: str) -> int | str | None:
        for rule, parameter in self.rules:
            if rule == name:
                return parameter
        return None

    @property
    def history(self) -> int:
        """``passwordHistory`` N, or -1 when the policy is absent (Keycloak's getExpiredPasswords)."""
        value = self.value("passwordHistory")
        return int(value) if isinstance(value, int) else -1

    def validate(self, password: str, username: str, email: str | None,
                 in_history: Callable[[int], bool]) -> None:
        """Raise :class:`PolicyViolation` for the first policy ``password`` breaks.

        ``in_history(n)`` says whether the password equals the current one or one of the ``n - 1``
        most recent previous passwords.
        """
        for name, parameter in self.rules:
            if name in _IGNORED:
                continue
            error = _CHECKS[name](password, parameter, username, email, in_history)
            if error is not None:
                raise error


def _count(predicate: Callable[[str], bool], password: str) -> int:
    return sum(1 for char in password if predicate(char))


def _min(key: str, predicate: Callable[[str], bool]) -> Callable[..., PolicyViolation | None]:
    def check(password: str, minimum: int, *_: object) -> PolicyViolation | None:
        return PolicyViolation(key, minimum) if _count(predicate, password) < minimum else None
    return check


def _length(password: str, minimum: int, *_: object) -> PolicyViolation | None:
    return PolicyViolation("invalidPasswordMinLengthMessage", minimum) if len(password) < minimum else None


def _max_length(password: str, maximum: int, *_: object) -> PolicyViolation | None:
    return PolicyViolation("invalidPasswordMaxLengthMessage", maximum) if len(password) > maximum else None


def _not_username(password: str, _p: object, username: str, *_: object) -> PolicyViolation | None:
    return PolicyViolation("invalidPasswordNotUsernameMessage") if password == username else None


def _not_contains_username(password: str, _p: object, username: str, *_: object) -> PolicyViolation | None:
    if username and username.lower() in password.lower():
        return PolicyViolation("invalidPasswordNotContainsUsernameMessage")
    return None


def _not_email(password: str, _p: object, _u: str, email: str | None, *_: object) -> PolicyViolation | None:
    if email and email.lower() == password.lower():
        return PolicyViolation("invalidPasswordNotEmailMessage")
    return None


def _regex(password: str, pattern: str, *_: object) -> PolicyViolation | None:
    return None if re.fullmatch(pattern, password) else PolicyViolation("invalidPasswordRegexPatternMessage")


def _history(password: str, depth: int, _u: str, _e: object,
             in_history: Callable[[int], bool]) -> PolicyViolation | None:
    if depth < 0:
        return None
    return PolicyViolation("invalidPasswordHistoryMessage", depth) if in_history(depth) else None


_CHECKS: dict[str, Callable[..., PolicyViolation | None]] = {
    "length": _length,
    "maxLength": _max_length,
    "digits": _min("invalidPasswordMinDigitsMessage", str.isdigit),
    "lowerCase": _min("invalidPasswordMinLowerCaseCharsMessage", str.islower),
    "upperCase": _min("invalidPasswordMinUpperCaseCharsMessage", str.isupper),
    "specialChars": _min("invalidPasswordMinSpecialCharsMessage", lambda char: not char.isalnum()),
    "notUsername": _not_username,
    "notContainsUsername": _not_contains_username,
    "notEmail": _not_email,
    "regexPattern": _regex,
    "passwordHistory": _history,
}
