# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: where SealedSecrets go - a file in a Git checkout, the cluster - and
the rule of the controller about Secrets it does not own."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.change_detection import is_up_to_date
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core; only sanity's import test lacks it
    yaml = None

MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"


def read_sealed_secret_file(path: str) -> dict[str, Any] | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise HardeningError(f"Cannot read the SealedSecret file {path}: {exc}. Fix or remove it.") from None
    if not isinstance(document, dict) or document.get("kind") != "SealedSecret":
        raise HardeningError(f"{path} does not hold a SealedSecret: give the path of the SealedSecret's file.")
    return document


def render_file(sealed_secret: dict[str, Any]) -> str:
    """The Git file: stable key order and line layout, so an unchanged object gives identical bytes."""
    return "---\n" + yaml.safe_dump(sealed_secret, default_flow_style=False, sort_keys=False, width=1 << 20)


def _write_file(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".sealed-secret-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # ciphertexts only: meant for Git
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def needs_takeover(secret: dict[str, Any] | None, sealed: dict[str, Any] | None, adopt: bool,
                   ref: str) -> bool:
    """Whether the existing Secret must be annotated for the controller to take it over."""
    if secret is None:
        return False
    meta = secret.get("metadata") or {}
    owners = [owner for owner in meta.get("ownerReferences") or [] if owner.get("kind") == "SealedSecret"]
    if sealed is not None and any(owner.get("uid") == (sealed.get("metadata") or {}).get("uid") for owner in owners):
        return False
    if owners:
        raise HardeningError(f"The Secret {ref} belongs to another SealedSecret (uid {owners[0].get('uid')}): "
                             "delete that one first. Nothing was written.")
    if (meta.get("annotations") or {}).get(MANAGED_ANNOTATION) == "true":
        return False
    if not adopt:
        raise HardeningError(f"The Secret {ref} already exists and no SealedSecret owns it: the controller would "
                             "refuse to overwrite it. Set adopt_existing=true to let the controller take it over "
                             f"(annotation {MANAGED_ANNOTATION}), or delete it. Nothing was written.")
    return True


def _current_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def write_file_if_changed(path: str, sealed_secret: dict[str, Any], check_mode: bool) -> bool:
    """Rewrite ``path`` only when its content changes (identical bytes otherwise)."""
    text = render_file(sealed_secret)
    if _current_text(path) == text:
        return False
    if not check_mode:
        _write_file(path, text)
    return True


def annotate_managed(objects: KubernetesObjects, namespace: str, name: str, check_mode: bool) -> None:
    """Let the controller take over an existing Secret (before its SealedSecret arrives)."""
    if check_mode:
        return
    objects.connection.request("PATCH", objects.resource("v1", "Secret").object_path(name, namespace),
                               body={"metadata": {"annotations": {MANAGED_ANNOTATION: "true"}}},
                               content_type="application/merge-patch+json")


def apply_if_changed(objects: KubernetesObjects, sealed_secret: dict[str, Any], live: dict[str, Any] | None,
                     field_manager: str, check_mode: bool) -> bool:
    if is_up_to_date(sealed_secret, live, field_manager):
        return False
    objects.apply(sealed_secret, field_manager=field_manager, force=True, dry_run=check_mode)
    return True
