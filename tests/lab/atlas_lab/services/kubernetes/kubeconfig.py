"""Kubeconfig files for the lab's API server (token auth, lab CA)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

DEFAULT_CONTEXT = "atlas-lab"


def kubeconfig(server_url: str, token: str, ca_file: str | Path | None = None, context: str = DEFAULT_CONTEXT,
               namespace: str = "default", user: str = "atlas-lab-admin") -> dict:
    cluster: dict = {"server": server_url}
    if ca_file:
        cluster["certificate-authority"] = str(ca_file)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, server_url: str, token: str, ca_file: str | Path | None = None,
                     context: str = DEFAULT_CONTEXT, namespace: str = "default",
                     user: str = "atlas-lab-admin") -> Path:
    """Write a kubeconfig (mode 0600: it holds the token) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(server_url, token, ca_file, context, namespace, user), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
