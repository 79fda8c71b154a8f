# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: container image references as Kyverno and Trivy Operator spell them.

The trap this file exists for: Kyverno names ``nginx`` ``docker.io/nginx:latest`` (default registry
``docker.io``, default tag ``latest``, no ``library/``; pkg/utils/image/infos.go), while Trivy Operator
records the same image as server ``index.docker.io``, repository ``library/nginx`` (go-containerregistry's
normalisation). Comparing either spelling with the other never matches. Both are reduced here to one
match key, and the policy's JMESPath performs exactly the same reduction (policy_manifests.py), so the
Python verdicts and the admission verdicts agree (tests/unit: the differential test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

DOCKER_HUB = "docker.io"
# Registry host names that mean Docker Hub (go-containerregistry rewrites docker.io to index.docker.io).
DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io")
DEFAULT_TAG = "latest"

# The distribution/reference grammar (github.com/distribution/reference regexp.go), which both
# Kyverno and kubelet apply to a container's image.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*))"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")


@dataclass(frozen=True)
class ImageReference:
    """One image: registry host (with port), repository path, tag and digest (either may be empty)."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def match_key(self) -> str:
        """``registry/repository@digest`` when the image is pinned by digest, else ``registry/repository:tag``,
        with Docker Hub spelled one way: ``docker.io``, and no ``library/`` before a one-segment name."""
        registry, repository = canonical_registry(self.registry), self.repository
        if registry == DOCKER_HUB and repository.startswith("library/") and repository.count("/") == 1:
            repository = repository[len("library/"):]
        if self.digest:
            return f"{registry}/{repository}@{self.digest}"
        return f"{registry}/{repository}:{self.tag or DEFAULT_TAG}"

    @property
    def tag_key(self) -> str:
        """The ``registry/repository:tag`` key even when the image also has a digest."""
        return ImageReference(self.registry, self.repository, self.tag).match_key

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text


def canonical_registry(registry: str) -> str:
    # Case-sensitive, as the policy's regular expression is (nobody writes Docker.io).
    return DOCKER_HUB if registry in DOCKER_HUB_ALIASES else registry


def names_registry(first_segment: str) -> bool:
    """Kyverno's rule (addDefaultRegistry): the first segment is a registry when it has a dot or a
    port, is ``localhost``, or has upper case letters."""
    return any(mark in first_segment for mark in ".:") or first_segment == "localhost" or first_segment.lower() != first_segment


def parse_image(image: str) -> ImageReference:
    """A container's ``image`` as Kyverno reads it: registry ``docker.io`` when none is named, tag
    ``latest`` when neither a tag nor a digest is given. Raises HardeningError on an invalid reference."""
    text = (image or "").strip()
    first, slash, _rest = text.partition("/")
    full = text if slash and names_registry(first) else f"{DOCKER_HUB}/{text}"
    match = _REFERENCE.match(full)
    if not match or len(match.group("name")) > 255:
        raise HardeningError(f"{image!r} is not a valid container image reference (expected "
                             "[registry[:port]/]repository[:tag][@sha256:digest]).")
    tag, digest = match.group("tag") or "", match.group("digest") or ""
    return ImageReference(match.group("domain"), match.group("path"), tag or ("" if digest else DEFAULT_TAG), digest)


def report_image(report: dict[str, Any]) -> ImageReference:
    """The image a Trivy Operator VulnerabilityReport is about (``report.registry.server`` and
    ``report.artifact``)."""
    body = report.get("report") or {}
    artifact = body.get("artifact") or {}
    server = (body.get("registry") or {}).get("server") or "index.docker.io"
    return ImageReference(server, artifact.get("repository") or "", artifact.get("tag") or "",
                          artifact.get("digest") or "")


def report_keys(report: dict[str, Any]) -> tuple[str, ...]:
    """The match keys under which a report is found: by tag, and by digest when it records one."""
    image = report_image(report)
    keys = [image.tag_key] if image.tag else []
    if image.digest:
        keys.append(image.match_key)
    return tuple(keys)
