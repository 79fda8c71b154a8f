"""Redacted diffs and Secret values for no_log (kubernetes_diff)."""

from __future__ import annotations

import base64
import json

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.diff import (
    HIDDEN_ANNOTATION,
    HIDDEN_NEW,
    HIDDEN_OLD,
    HIDDEN_UNCHANGED,
    LAST_APPLIED,
    object_diff,
    secret_values,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(data: dict[str, str], **extra: object) -> dict[str, object]:
    obj: dict[str, object] = {"apiVersion": "v1", "kind": "Secret",
                              "metadata": {"name": "db", "namespace": "atlas", "resourceVersion": "7",
                                           "managedFields": [{"manager": "x"}]},
                              "type": "Opaque", "data": {key: b64(value) for key, value in data.items()}}
    obj.update(extra)
    return obj


def test_secret_diff_marks_changes_without_values() -> None:
    before = secret({"password": "old-password-1", "user": "admin-user"})
    before["metadata"]["annotations"] = {LAST_APPLIED: json.dumps({"stringData": {"password": "old-password-1"}})}
    after = secret({"password": "new-password-2", "user": "admin-user", "token": "fresh-token-3"})
    diff = object_diff("Secret atlas/db", before, after)
    assert diff["before"]["data"] == {"password": HIDDEN_OLD, "user": HIDDEN_UNCHANGED}
    assert diff["after"]["data"] == {"password": HIDDEN_NEW, "user": HIDDEN_UNCHANGED, "token": HIDDEN_NEW}
    assert diff["before"]["metadata"]["annotations"][LAST_APPLIED] == HIDDEN_ANNOTATION
    text = json.dumps(diff)
    for value in ("old-password-1", "new-password-2", "admin-user", "fresh-token-3"):
        assert value not in text and b64(value) not in text
    # Bookkeeping is not part of a diff.
    assert "managedFields" not in diff["after"]["metadata"] and "resourceVersion" not in diff["after"]["metadata"]
    assert diff["before_header"] == "Secret atlas/db"


def test_new_secret_diff() -> None:
    diff = object_diff("Secret atlas/db", None, secret({"password": "p4ssw0rd!"}))
    assert diff["before"] == {}
    assert diff["after"]["data"] == {"password": HIDDEN_NEW}


def test_string_data_is_hidden_too() -> None:
    after = secret({}, stringData={"password": "in-clear-value"})
    diff = object_diff("Secret atlas/db", None, after)
    assert diff["after"]["stringData"] == {"password": HIDDEN_NEW}
    assert "in-clear-value" not in json.dumps(diff)


def test_other_kinds_are_shown() -> None:
    before = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"level": "info"},
              "status": {"x": 1}}
    after = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"level": "debug"}}
    diff = object_diff("ConfigMap c", before, after)
    assert diff["before"]["data"] == {"level": "info"} and diff["after"]["data"] == {"level": "debug"}
    assert "status" not in diff["before"]


def test_secret_values_cover_encoded_decoded_and_lines() -> None:
    pem = "-----BEGIN KEY-----\nMIIBsecretline\n-----END KEY-----"
    values = secret_values(secret({"password": "hunter22", "key": pem}, stringData={"extra": "clear-text"}))
    assert {"hunter22", b64("hunter22"), pem, "MIIBsecretline", "clear-text"} <= values
    assert all(len(value) >= 4 for value in values)
    assert secret_values({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "hunter22"}}) == set()
