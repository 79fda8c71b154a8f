# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: merge a dict into the text of a YAML values file, keeping everything else as it was.

A Helm values file lives in git, with comments and its own layout. A change must touch only the
keys it sets: the file is loaded and dumped with ruamel.yaml's round-trip mode (comments, key
order, quoting and indentation kept), and not dumped at all when no value changes, so a second
run is byte-for-byte a no-op.

Merge rules: mappings merge key by key, recursively; any other value (scalar, list) replaces the
old one. A key that holds ``null`` may become a mapping; a key that holds a scalar or a list where
a mapping is needed is an error rather than a silent loss of data. Values compare with their
types: ``3`` and ``"3"`` differ (the chart wants an integer), and so do ``1`` and ``true``.
"""

from __future__ import annotations

import io
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import CommentMark, YAMLError
    from ruamel.yaml.tokens import CommentToken
    HAS_RUAMEL = True
    RUAMEL_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_RUAMEL = False
    RUAMEL_IMPORT_ERROR = exc
    CommentedMap = dict  # type: ignore[misc,assignment]


class ValuesFileError(HardeningError):
    """The values file cannot be read as a YAML mapping, or cannot take the values."""


def same_value(old: Any, new: Any) -> bool:
    """Equality that also compares types where Python would not (bool vs int, int vs str)."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool) and old == new
    if isinstance(old, dict) and isinstance(new, dict):
        return set(old) == set(new) and all(same_value(old[key], new[key]) for key in new)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new))
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return old == new
    if isinstance(old, str) and isinstance(new, str):
        return str(old) == str(new)
    return type(old) is type(new) and old == new  # pylint: disable=unidiomatic-typecheck


def _plain(value: Any) -> Any:
    """A ruamel node as plain Python data (for the returned list of changes)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _deepest_last(mapping: Any, key: Any) -> tuple[Any, Any]:
    """The mapping and key of the last scalar under ``mapping[key]`` (where the trailing comment sits)."""
    value = mapping[key]
    while isinstance(value, CommentedMap) and len(value):
        mapping, key = value, list(value.keys())[-1]
        value = mapping[key]
    return mapping, key


def _move_trailing_lines(mapping: Any, old_last: Any) -> None:
    """Keep blank lines and comments that close a block below the keys appended to it.

    ruamel.yaml attaches the lines that follow a block (a blank line, the comment above the next
    section) to the block's last scalar; appending a key would leave them above the new key.
    """
    if not hasattr(mapping, "ca"):
        return
    holder, holder_key = _deepest_last(mapping, old_last)
    entry = holder.ca.items.get(holder_key)
    if not entry or len(entry) < 3 or entry[2] is None:
        return
    text = entry[2].value
    newline = text.find("\n")
    if newline < 0 or not text[newline + 1:]:
        return
    entry[2].value = text[:newline + 1]
    new_holder, new_key = _deepest_last(mapping, list(mapping.keys())[-1])
    if isinstance(new_holder[new_key], (dict, list)):
        return  # an empty mapping or a list at the end: leave the layout alone
    new_holder.ca.items[new_key] = [None, None, CommentToken("\n" + text[newline + 1:], CommentMark(0), None), None]


def _merge(target: Any, values: dict[str, Any], prefix: str, changes: list[dict[str, Any]],
           appended: list[tuple[int, Any, Any]] | None = None) -> None:
    for key, new in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in target and len(target) and appended is not None:
            appended.append((path.count("."), target, list(target.keys())[-1]))
        if isinstance(new, dict):
            old = target.get(key)
            if old is None:
                target[key] = CommentedMap()
                if not new:
                    changes.append({"key": path, "before": None, "after": {}})
            elif not isinstance(old, dict):
                raise ValuesFileError(
                    "{} holds a {} in the values file, but a mapping is needed to set {}: fix that key by hand (the "
                    "module does not "
                    "overwrite it, to "
                    "lose nothing).".format(path, type(_plain(old)).__name__, ", ".join(f"{path}.{k}" for k in new)))
            _merge(target[key], new, path, changes, appended)
            continue
        if key in target and same_value(target[key], new):
            continue
        if new is None and key not in target:
            continue  # unset and absent mean the same to Helm: nothing to write
        changes.append({"key": path, "before": _plain(target.get(key)), "after": _plain(new)})
        target[key] = new


def guess_layout(text: str) -> tuple[int, int]:
    """(mapping indent, block sequence dash offset) the file already uses; (2, 0) when it does not say.

    ruamel.yaml writes one layout for the whole document, so it must be the file's own, or every
    untouched line would move.
    """
    mapping_indent = None
    sequence_offset = None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for parent, child in zip(lines, lines[1:]):
        if not parent.rstrip().endswith(":"):
            continue
        stripped = parent.lstrip()
        parent_column = len(parent) - len(stripped) + (2 if stripped.startswith("- ") else 0)
        step = len(child) - len(child.lstrip()) - parent_column
        if child.lstrip().startswith("- "):
            if sequence_offset is None and step >= 0:
                sequence_offset = step
        elif mapping_indent is None and step > 0:
            mapping_indent = step
        if mapping_indent is not None and sequence_offset is not None:
            break
    return mapping_indent or 2, sequence_offset or 0


def merge_values_text(text: str, values: dict[str, Any], source: str = "values "
                                                                       "file") -> tuple[str, list[dict[str, Any]]]:
    """Return (new text, changes). The text is returned unchanged when no value changes.

    ``changes`` lists ``{key, before, after}`` with dotted keys, in the order they were set.
    """
    if not HAS_RUAMEL:  # pragma: no cover
        raise ValuesFileError(f"ruamel.yaml is required to edit {source} without losing its comments")
    yaml = YAML()  # round-trip: keeps comments, key order and quoting
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the long lines the file already has
    mapping_indent, sequence_offset = guess_layout(text)
    yaml.indent(mapping=mapping_indent, sequence=sequence_offset + 2, offset=sequence_offset)
    try:
        data = yaml.load(text) if text.strip() else CommentedMap()
    except YAMLError as exc:
        raise ValuesFileError("{} is not valid YAML: {}".format(source, " ".join(str(exc).split()))) from None
    kept_text = ""
    if data is None:  # only comments (or nothing): keep them above the new keys
        data = CommentedMap()
        kept_text = text if text.endswith("\n") or not text else text + "\n"
    if not isinstance(data, dict):
        raise ValuesFileError(f"{source} holds a {type(_plain(data)).__name__} at the top, not a mapping of Helm "
                              "values: check the path.")
    changes: list[dict[str, Any]] = []
    appended: list[tuple[int, Any, Any]] = []
    _merge(data, values, "", changes, appended)
    if not changes:
        return text, changes
    # Inner blocks first, so that the lines move outwards to the very end of the outermost block.
    for depth_and_block in sorted(appended, key=lambda item: -item[0]):
        mapping, old_last = depth_and_block[1], depth_and_block[2]
        _move_trailing_lines(mapping, old_last)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return kept_text + stream.getvalue(), changes
