# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Kubernetes side of a rotation: Secret copies kept in step, and the audit Event."""

from __future__ import annotations

import uuid

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    AuditEvent,
    RotationError,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import PASSWORD, ROTATION_ID
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationRun


def sync_copies_when_not_due(run: RotationRun, secret: StoredSecret) -> None:
    result = run.result
    check_mode = run.settings.check_mode
    if run.settings.secret_copies:
        try:
            result.copies_updated = run.cluster_port().sync_secret_copies(
                run.settings.secret_copies, run.settings.username, secret.data[PASSWORD], check_mode)
        except HardeningError as err:
            raise RotationError("Updating the Kubernetes Secret copies from %s failed: %s Keycloak and Vault "
                                "agree; the next run retries the copies." % (run.store.location, err)) from None
    copies = ", ".join(result.copies_updated)
    if result.action == "completed":
        emit_event(run, "PasswordRotated", secret, result.copies_updated)
        result.message = ("Recorded the interrupted rotation %s in the Vault metadata%s; next rotation due %s."
                          % (result.rotation_id, "; updated %s" % copies if copies else "", result.next_due))
    elif result.action == "would_complete":
        result.message = ("Rotation %s is promoted in Vault but not recorded in its metadata%s; check mode: "
                          "nothing written." % (result.rotation_id,
                                                "; %s would be updated" % copies if copies else ""))
    elif result.copies_updated:
        result.changed = True
        result.action = "would_sync_copies" if check_mode else "copies_synced"
        if not check_mode:
            emit_event(run, "PasswordCopiesSynced", secret, result.copies_updated)
        result.message = "Rotation not due (next %s); Kubernetes Secret copies %s %s to match %s." % (
            result.next_due, copies, "would be updated" if check_mode else "updated", run.store.location)
    else:
        result.message = "Rotation not due: %s; next rotation due %s." % (result.due_reason, result.next_due)


def update_copies_and_record_event(run: RotationRun, secret: StoredSecret, reason: str) -> None:
    result = run.result
    if run.settings.secret_copies:
        try:
            result.copies_updated = run.cluster_port().sync_secret_copies(
                run.settings.secret_copies, run.settings.username, secret.data[PASSWORD], False)
        except HardeningError as err:
            raise RotationError(
                "The password was rotated in Keycloak and %s (version %d), but updating the Kubernetes Secret "
                "copies failed: %s The next run updates them." % (run.store.location, secret.version, err)
            ) from None
    emit_event(run, reason, secret, result.copies_updated)


def emit_event(run: RotationRun, reason: str, secret: StoredSecret, copies: list[str]) -> None:
    settings = run.settings
    if not settings.event_namespace or run.cluster is None:
        return
    rotation_id = str(secret.data.get(ROTATION_ID) or "")
    if reason == "PasswordRotated":
        message = ("Keycloak admin password of user %s (realm %s) rotated by %s; rotation %s; %s version %d; "
                   "next rotation due %s; Secret copies updated: %s."
                   % (settings.username, settings.realm, settings.rotated_by, rotation_id, run.store.location,
                      secret.version, run.result.next_due, ", ".join(copies) or "none"))
    else:
        message = ("Kubernetes Secret copies of the Keycloak admin password of user %s brought in line with %s "
                   "version %d by %s: %s."
                   % (settings.username, run.store.location, secret.version, settings.rotated_by,
                      ", ".join(copies)))
    moment = run.now()
    name = "keycloak-admin-password.%s.%s" % (moment.strftime("%Y%m%d%H%M%S"), uuid.uuid4().hex[:8])
    event = AuditEvent(namespace=settings.event_namespace, name=name, reason=reason, message=message,
                       involved_object=dict(settings.event_object), timestamp=rfc3339(moment))
    try:
        run.cluster.emit_event(event)
    except HardeningError as err:
        run.result.warnings.append("Could not create the audit Event in namespace %s: %s (the Vault metadata "
                                   "records the rotation)." % (settings.event_namespace, err))
