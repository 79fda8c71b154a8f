# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: generate passwords from ``secrets`` that meet a Keycloak realm password policy.

Keycloak stores a realm's policy as one string, ``length(12) and digits(2) and notUsername``
(``PasswordPolicy.parse`` splits on `` and ``; a rule without parentheses takes the provider's
default). The generator reads the rules that constrain a new password, combines them with the
caller's own minimums, builds a password with the required character classes, then checks it
against every rule it can evaluate locally. Rules that depend on server state (history,
denylist files) cannot be checked here: Keycloak still enforces them and its refusal is reported.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

# Special characters that survive every layer the password travels through (form-encoded token
# requests, JSON, YAML, shell variables in a Pod, Kubernetes Secret data) without quoting trouble.
DEFAULT_SPECIAL_CHARACTERS = "!#%+-.:=@^_~"

# Keycloak's defaults when a rule is given without a value (the providers' parseConfig defaults).
_INT_DEFAULTS = {
    "length": 8,
    "maxLength": 64,
    "digits": 1,
    "lowerCase": 1,
    "upperCase": 1,
    "specialChars": 1,
    "passwordHistory": 3,
    "passwordAge": 365,
    "hashIterations": 27500,
    "forceExpiredPasswordChange": 365,
    "maxAuthAge": 300,
    "recoveryCodesWarningThreshold": 4,
}
# Rules that say nothing about the characters of a new password.
_NOT_ABOUT_CHARACTERS = {
    "hashAlgorithm", "hashIterations", "forceExpiredPasswordChange", "maxAuthAge",
    "recoveryCodesWarningThreshold", "forceExpiredPasswordChangeWhitelist",
}
# Rules Keycloak enforces against state this code cannot see; a random password passes them.
_SERVER_SIDE_ONLY = {"passwordHistory", "passwordAge", "passwordBlacklist", "passwordDenylist"}
_FLAGS = {"notUsername", "notEmail", "notContainsUsername", "notContainsName", "notPersonalInformation"}

MAX_ATTEMPTS = 200


@dataclass(frozen=True)
class RealmPasswordPolicy:
    """The parts of a realm ``passwordPolicy`` string that constrain a newly generated password."""

    text: str = ""
    min_length: int = 0
    max_length: int | None = None
    min_digits: int = 0
    min_lowercase: int = 0
    min_uppercase: int = 0
    min_special: int = 0
    flags: tuple[str, ...] = ()
    regex_patterns: tuple[str, ...] = ()
    #: rules this module does not know; Keycloak enforces them, a refusal is reported as is
    unknown_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserIdentity:
    """What the name-based rules compare the password with."""

    username: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True)
class PasswordRequirements:
    """The caller's wishes (module options); the realm policy can only raise them."""

    length: int = 32
    min_digits: int = 1
    min_lowercase: int = 1
    min_uppercase: int = 1
    min_special: int = 1
    special_characters: str = DEFAULT_SPECIAL_CHARACTERS


@dataclass
class GenerationPlan:
    """Effective length and class minimums after merging requirements with the realm policy."""

    length: int
    min_counts: dict[str, int] = field(default_factory=dict)
    alphabet: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_realm_password_policy(text: str | None) -> RealmPasswordPolicy:
    """Parse a realm's ``passwordPolicy`` string like Keycloak's ``PasswordPolicy.parse``."""
    text = (text or "").strip()
    if not text:
        return RealmPasswordPolicy()
    values: dict[str, int] = {}
    flags: list[str] = []
    patterns: list[str] = []
    unknown: list[str] = []
    for element in text.split(" and "):
        element = element.strip()
        if not element:
            continue
        open_paren = element.find("(")
        if open_paren == -1:
            name, config = element, None
        else:
            name, config = element[:open_paren].strip(), element[open_paren + 1:-1]
        if config is not None and config.strip() in ("", "undefined"):
            config = None
        if name in _INT_DEFAULTS:
            try:
                values[name] = int(config) if config is not None else _INT_DEFAULTS[name]
            except ValueError:
                raise HardeningError(
                    "The realm password policy %r has a non-numeric value for %s: %r." % (text, name, config)
                ) from None
        elif name == "regexPattern":
            if config:
                patterns.append(config)
        elif name in _FLAGS:
            flags.append(name)
        elif name in _NOT_ABOUT_CHARACTERS or name in _SERVER_SIDE_ONLY:
            continue
        else:
            unknown.append(name)
    return RealmPasswordPolicy(
        text=text,
        min_length=values.get("length", 0),
        max_length=values.get("maxLength"),
        min_digits=values.get("digits", 0),
        min_lowercase=values.get("lowerCase", 0),
        min_uppercase=values.get("upperCase", 0),
        min_special=values.get("specialChars", 0),
        flags=tuple(flags),
        regex_patterns=tuple(patterns),
        unknown_rules=tuple(unknown),
    )


def plan_generation(requirements: PasswordRequirements, policy: RealmPasswordPolicy) -> GenerationPlan:
    """Merge the caller's requirements with the realm policy; fail when they cannot both hold."""
    special = "".join(dict.fromkeys(requirements.special_characters))
    if any(char.isalnum() or char.isspace() for char in special):
        raise HardeningError(
            "password_special_characters may only contain punctuation (Keycloak counts a special "
            "character as neither a letter nor a digit); got %r." % requirements.special_characters
        )
    min_counts = {
        "digits": max(requirements.min_digits, policy.min_digits),
        "lowercase": max(requirements.min_lowercase, policy.min_lowercase),
        "uppercase": max(requirements.min_uppercase, policy.min_uppercase),
        "special": max(requirements.min_special, policy.min_special),
    }
    if min_counts["special"] and not special:
        raise HardeningError(
            "The password needs %d special character(s) (realm policy %r) but "
            "password_special_characters is empty." % (min_counts["special"], policy.text)
        )
    alphabet = {
        "digits": string.digits,
        "lowercase": string.ascii_lowercase,
        "uppercase": string.ascii_uppercase,
        "special": special,
    }
    notes: list[str] = []
    length = max(requirements.length, policy.min_length, sum(min_counts.values()))
    if length != requirements.length:
        notes.append("password length raised from %d to %d to meet the realm policy" % (requirements.length, length))
    if policy.max_length is not None and length > policy.max_length:
        if policy.max_length < max(policy.min_length, sum(min_counts.values())):
            raise HardeningError(
                "The realm password policy %r cannot be met together with password_length=%d and the "
                "character class minimums: maxLength(%d) is smaller than what they need."
                % (policy.text, requirements.length, policy.max_length)
            )
        notes.append("password length lowered from %d to the realm maxLength(%d)" % (length, policy.max_length))
        length = policy.max_length
    if length < 1:
        raise HardeningError("password_length must be at least 1.")
    return GenerationPlan(length=length, min_counts=min_counts, alphabet=alphabet, notes=notes)


def policy_violations(password: str, policy: RealmPasswordPolicy, user: UserIdentity) -> list[str]:
    """Return what ``password`` breaks among the rules this code can evaluate (empty: none)."""
    problems: list[str] = []
    if len(password) < policy.min_length:
        problems.append("length(%d)" % policy.min_length)
    if policy.max_length is not None and len(password) > policy.max_length:
        problems.append("maxLength(%d)" % policy.max_length)
    counts = _class_counts(password)
    for rule, key, minimum in (("digits", "digits", policy.min_digits),
                               ("lowerCase", "lowercase", policy.min_lowercase),
                               ("upperCase", "uppercase", policy.min_uppercase),
                               ("specialChars", "special", policy.min_special)):
        if counts[key] < minimum:
            problems.append("%s(%d)" % (rule, minimum))
    lowered = password.lower()
    username = (user.username or "").lower()
    email = (user.email or "").lower()
    if "notUsername" in policy.flags and username and lowered == username:
        problems.append("notUsername")
    if "notContainsUsername" in policy.flags and username and username in lowered:
        problems.append("notContainsUsername")
    if "notEmail" in policy.flags and email and lowered == email:
        problems.append("notEmail")
    if "notContainsName" in policy.flags or "notPersonalInformation" in policy.flags:
        parts = [user.first_name, user.last_name, user.username, user.email]
        parts += re.split(r"[.@+-]", user.email or "")
        if any(part and len(part) >= 3 and part.lower() in lowered for part in parts):
            problems.append("notContainsName")
    for pattern in policy.regex_patterns:
        try:
            if not re.fullmatch(pattern, password):
                problems.append("regexPattern(%s)" % pattern)
        except re.error:
            # A Java-only construct; Keycloak evaluates it and its refusal is reported.
            continue
    return problems


def generate_password(requirements: PasswordRequirements, policy: RealmPasswordPolicy,
                      user: UserIdentity) -> str:
    """Return a new random password meeting ``requirements`` and every locally checkable rule."""
    plan = plan_generation(requirements, policy)
    rng = secrets.SystemRandom()
    pool = "".join(chars for chars in plan.alphabet.values() if chars)
    for _attempt in range(MAX_ATTEMPTS):
        chars: list[str] = []
        for key, minimum in plan.min_counts.items():
            chars.extend(secrets.choice(plan.alphabet[key]) for _index in range(minimum))
        chars.extend(secrets.choice(pool) for _index in range(plan.length - len(chars)))
        rng.shuffle(chars)
        candidate = "".join(chars)
        if not policy_violations(candidate, policy, user):
            return candidate
    raise HardeningError(
        "Could not generate a password meeting the realm password policy %r with the configured "
        "character classes after %d attempts (a regexPattern rule probably requires characters "
        "outside digits, ASCII letters and %r). Adjust password_special_characters or the realm "
        "policy." % (policy.text, MAX_ATTEMPTS, requirements.special_characters)
    )


def _class_counts(password: str) -> dict[str, int]:
    counts = {"digits": 0, "lowercase": 0, "uppercase": 0, "special": 0}
    for char in password:
        if char.isdigit():
            counts["digits"] += 1
        elif char.islower():
            counts["lowercase"] += 1
        elif char.isupper():
            counts["uppercase"] += 1
        elif not char.isalnum():
            counts["special"] += 1
    return counts
