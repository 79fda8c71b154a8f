# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the helm_values_merge module does with its parameters.

The file is read, merged in memory (values_merge.py), and written atomically only when a value
changed: a second run leaves the file byte-for-byte as it was.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._helm.values_merge import (
    HAS_RUAMEL,
    RUAMEL_IMPORT_ERROR,
    merge_values_text,
)


def merge_values_file_task(module: HardeningModule) -> dict[str, Any]:
    if not HAS_RUAMEL:
        raise HardeningError(missing_required_lib("ruamel.yaml"), exception=to_native(RUAMEL_IMPORT_ERROR))
    path = module.params["path"]
    result: dict[str, Any] = dict(changed=False, changes=[], path=path, created=False)
    exists = os.path.exists(path)
    if exists and not os.path.isfile(path):
        raise HardeningError(f"{path} is not a regular file: give the path of the Helm values file.", **result)
    if not exists and not module.params["create"]:
        raise HardeningError(f"Helm values file {path} does not exist: check the path, or set create: true to start a "
                             "new one.", **result)
    before = ""
    try:
        if exists:
            with open(path, "rb") as stream:
                before = stream.read().decode("utf-8")
        after, changes = merge_values_text(before, module.params["values"], source=path)
    except UnicodeDecodeError:
        raise HardeningError(f"{path} is not UTF-8 text: is it really a Helm values file?", **result) from None
    except HardeningError as exc:
        raise HardeningError(str(exc), **result) from None
    except OSError as exc:
        raise HardeningError(f"cannot read {path}: {to_native(exc)}", **result) from None

    result["created"] = not exists
    result["changes"] = changes
    result["changed"] = bool(changes) or not exists
    if module.diff_mode and result["changed"]:
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)
    if result["changed"] and not module.check_mode:
        try:
            if exists and module.params["backup"]:
                result["backup_file"] = module.backup_local(path)
            _write_atomically(module, path, after)
        except OSError as exc:
            raise HardeningError(f"cannot write {path}: {to_native(exc)}", **result) from None
    return result


def _write_atomically(module: HardeningModule, path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".helm_values_merge.", dir=directory)
    with os.fdopen(handle, "wb") as stream:
        stream.write(to_bytes(text))
    module.atomic_move(temporary, path)
