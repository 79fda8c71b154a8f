# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the first run, when Vault holds nothing yet: adopt the password from a Kubernetes Secret.

The password is adopted only after it is proven to log in; it is stored with check-and-set
(version 0), then rotated at once.
"""

from __future__ import annotations

from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.logins import (
    LiveCredential,
    find_user,
    try_login,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    CasConflict,
    RotationError,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import PASSWORD, USERNAME
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationResult, RotationRun
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.steps import create_pending


def adopt_from_kubernetes(run: RotationRun) -> RotationResult:
    result = run.result
    settings = run.settings
    source = settings.adopt_from
    if source is None:
        raise RotationError(
            "%s holds no secret yet and adopt_from_secret is not set. Store the admin's current password "
            "there first (vault kv put <path> username=%s password=...) or set adopt_from_secret to the "
            "Kubernetes Secret that holds it; nothing was changed." % (run.store.location, settings.username))
    password, username = run.cluster_port().read_secret_value(source)
    if not password:
        raise RotationError(
            "Nothing to adopt: Kubernetes Secret %s has no key %r (or does not exist), and %s holds no "
            "secret. Check adopt_from_secret; nothing was changed."
            % (source.ref, source.password_key, run.store.location))
    run.register_secret(password)
    if username and username.lower() != settings.username.lower():
        raise RotationError("Kubernetes Secret %s holds the password of user %r, not %r: check "
                            "adopt_from_secret and username; nothing was changed."
                            % (source.ref, username, settings.username))
    result.due = True
    result.due_reason = "no password stored in Vault yet (first run): adopting it from %s" % source.ref
    result.next_due = rfc3339(run.now())
    if settings.check_mode:
        result.changed = True
        result.action = "would_adopt"
        result.message = ("Would adopt the password from Kubernetes Secret %s into %s after proving it logs in, "
                          "then rotate it; check mode: nothing written." % (source.ref, run.store.location))
        return result
    session = try_login(run, password)
    if session is None:
        raise RotationError(
            "The password in Kubernetes Secret %s (key %r) does not log in as %r in realm %r (401), so it was "
            "not adopted; nothing was written. Put the working password in that Secret or in %s."
            % (source.ref, source.password_key, settings.username, settings.realm, run.store.location))
    live = LiveCredential(password, session, "Kubernetes Secret %s" % source.ref)
    user = find_user(run, run.admin_session(live.session))
    data = {USERNAME: settings.username, PASSWORD: password}
    try:
        version = run.store.write(data, cas=0)
    except CasConflict:
        return run.stopped("another run stored a password in %s at the same time" % run.store.location)
    run.wrote = True
    run.leaves = ("The adopted password is stored in %s; the next run rotates it." % run.store.location)
    result.changed = True
    result.vault_version = version
    secret = StoredSecret(version=version, data=data, created_time=rfc3339(run.now()))
    return create_pending(run, secret, live=(live, user), action="adopted_and_rotated")
