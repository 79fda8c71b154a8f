"""Password generation against parsed Keycloak realm password policies.

The policy strings are spelled as Keycloak stores them (``RealmRepresentation.passwordPolicy``);
generated passwords are checked with an independent count, and, where the lab is importable, with
the lab's Keycloak emulator policy validator (written from Keycloak's policy providers).
"""

from __future__ import annotations

import string

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import (
    DEFAULT_SPECIAL_CHARACTERS,
    PasswordRequirements,
    UserIdentity,
    generate_password,
    parse_realm_password_policy,
    plan_generation,
    policy_violations,
)

ADMIN = UserIdentity(username="admin", email="admin@atlas.example", first_name="Ada", last_name="Lovelace")


def counts(password: str) -> dict[str, int]:
    return {
        "digits": sum(c in string.digits for c in password),
        "lower": sum(c in string.ascii_lowercase for c in password),
        "upper": sum(c in string.ascii_uppercase for c in password),
        "special": sum(not c.isalnum() for c in password),
    }


def test_parse_defaults_when_rules_have_no_value() -> None:
    policy = parse_realm_password_policy("length and digits and upperCase and lowerCase and specialChars and maxLength")
    assert (policy.min_length, policy.min_digits, policy.min_uppercase, policy.min_lowercase,
            policy.min_special, policy.max_length) == (8, 1, 1, 1, 1, 64)


def test_parse_values_flags_regex_and_server_side_rules() -> None:
    policy = parse_realm_password_policy(
        "length(14) and digits(3) and notUsername(undefined) and passwordHistory(5) and "
        "regexPattern(^[A-Za-z0-9!#%+.:=@^_~-]+$) and hashIterations(27500) and notEmail and customThing(2)")
    assert policy.min_length == 14 and policy.min_digits == 3
    assert policy.flags == ("notUsername", "notEmail")
    assert policy.regex_patterns == ("^[A-Za-z0-9!#%+.:=@^_~-]+$",)
    assert policy.unknown_rules == ("customThing",)


def test_parse_rejects_a_non_numeric_value() -> None:
    with pytest.raises(HardeningError, match="non-numeric value for length"):
        parse_realm_password_policy("length(twelve)")


def test_empty_policy() -> None:
    assert parse_realm_password_policy(None).min_length == 0
    assert parse_realm_password_policy("  ").flags == ()


def test_generated_password_meets_options_and_policy() -> None:
    policy = parse_realm_password_policy("length(40) and digits(4) and upperCase(3) and specialChars(5) "
                                         "and notUsername and notContainsUsername")
    requirements = PasswordRequirements(length=24, min_digits=2, min_lowercase=2)
    for _round in range(50):
        password = generate_password(requirements, policy, ADMIN)
        found = counts(password)
        assert len(password) == 40  # raised from 24 to the policy's length(40)
        assert found["digits"] >= 4 and found["upper"] >= 3 and found["special"] >= 5 and found["lower"] >= 2
        assert set(password) <= set(string.ascii_letters + string.digits + DEFAULT_SPECIAL_CHARACTERS)
        assert "admin" not in password.lower()
        assert policy_violations(password, policy, ADMIN) == []


def test_passwords_are_not_repeated() -> None:
    policy = parse_realm_password_policy("")
    seen = {generate_password(PasswordRequirements(), policy, ADMIN) for _round in range(200)}
    assert len(seen) == 200


def test_max_length_lowers_the_length() -> None:
    plan = plan_generation(PasswordRequirements(length=64), parse_realm_password_policy("maxLength(20)"))
    assert plan.length == 20 and plan.notes
    password = generate_password(PasswordRequirements(length=64), parse_realm_password_policy("maxLength(20)"), ADMIN)
    assert len(password) == 20


def test_impossible_policy_is_reported_before_anything_happens() -> None:
    with pytest.raises(HardeningError, match="cannot be met"):
        plan_generation(PasswordRequirements(length=12),
                        parse_realm_password_policy("maxLength(6) and length(8)"))


def test_special_characters_must_be_punctuation() -> None:
    with pytest.raises(HardeningError, match="only contain punctuation"):
        plan_generation(PasswordRequirements(special_characters="ab!"), parse_realm_password_policy(""))
    with pytest.raises(HardeningError, match="special_characters is empty"):
        plan_generation(PasswordRequirements(special_characters="", min_special=0),
                        parse_realm_password_policy("specialChars(2)"))


def test_no_special_characters_when_none_are_wanted() -> None:
    requirements = PasswordRequirements(min_special=0, special_characters="")
    password = generate_password(requirements, parse_realm_password_policy("length(30)"), ADMIN)
    assert password.isalnum() and len(password) == 32


def test_regex_pattern_is_honoured() -> None:
    # Keycloak matches the whole password (Matcher.matches): must start with a letter.
    policy = parse_realm_password_policy("regexPattern([A-Za-z].*)")
    for _round in range(30):
        password = generate_password(PasswordRequirements(length=16), policy, ADMIN)
        assert password[0].isalpha()


def test_unsatisfiable_regex_gives_a_clear_error() -> None:
    policy = parse_realm_password_policy("regexPattern([0-9]+)")
    with pytest.raises(HardeningError, match="regexPattern rule probably requires"):
        generate_password(PasswordRequirements(length=12), policy, ADMIN)


def test_violations_cover_names() -> None:
    policy = parse_realm_password_policy("notContainsName and notEmail and notUsername")
    assert "notContainsName" in policy_violations("xxLOVELACEyy", policy, ADMIN)
    assert "notEmail" in policy_violations("Admin@atlas.example", policy, ADMIN)
    assert "notUsername" in policy_violations("admin", policy, ADMIN)


def test_generated_passwords_pass_the_lab_keycloak_validator() -> None:
    """Cross-check with the Keycloak emulator's validator, written from Keycloak's providers."""
    # tests/unit/conftest.py puts tests/lab on sys.path.
    from atlas_lab.services.keycloak import password_policy as lab_policy  # pylint: disable=import-error,import-outside-toplevel
    text = "length(20) and maxLength(30) and digits(2) and lowerCase(2) and upperCase(2) and specialChars(3) " \
           "and notUsername and notContainsUsername and notEmail"
    reference = lab_policy.PasswordPolicy(text)
    for _round in range(100):
        password = generate_password(PasswordRequirements(length=25), parse_realm_password_policy(text), ADMIN)
        reference.validate(password, "admin", "admin@atlas.example", lambda _depth: False)
