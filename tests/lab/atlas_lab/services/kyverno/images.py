"""Kyverno's image names (pkg/utils/image/infos.go), with the default configuration
(defaultRegistry docker.io, enableDefaultRegistryMutation true)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"

# github.com/distribution/reference: ReferenceRegexp (name, tag, digest).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
REFERENCE = re.compile(rf"^((?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*))(?::({_TAG}))?(?:@({_DIGEST}))?$")
NAME_TOTAL_LENGTH_MAX = 255


class ImageError(ValueError):
    pass


@dataclass
class ImageInfo:
    registry: str
    name: str
    path: str
    tag: str
    digest: str

    def __str__(self) -> str:
        image = f"{self.registry}/{self.path}" if self.registry else self.path
        return f"{image}@{self.digest}" if self.digest else f"{image}:{self.tag}"

    @property
    def reference(self) -> str:
        return self.digest or self.tag

    def as_variable(self) -> dict[str, str]:
        """The ``images`` variable's entry for one container."""
        with_tag = (f"{self.registry}/{self.path}:{self.tag}" if self.registry else f"{self.path}:{self.tag}")
        value = {"registry": self.registry, "name": self.name, "path": self.path, "tag": self.tag,
                 "reference": f"{self}", "referenceWithTag": with_tag}
        if self.digest:
            value["digest"] = self.digest
        return value


def add_default_registry(name: str) -> str:
    index = name.find("/")
    if index == -1 or (not any(mark in name[:index] for mark in ".:") and name[:index] != "localhost"
                       and name[:index].lower() == name[:index]):
        return f"{DEFAULT_REGISTRY}/{name}"
    return name


def image_info(image: str) -> ImageInfo:
    full = add_default_registry(image)
    match = REFERENCE.match(full)
    if not match:
        raise ImageError(f"bad image: {full}, defaultRegistry: {DEFAULT_REGISTRY}, "
                         "enableDefaultRegistryMutation: true: invalid reference format")
    if len(match.group(1)) > NAME_TOTAL_LENGTH_MAX:
        raise ImageError(f"bad image: {full}: repository name must not be more than 255 characters")
    registry, path = match.group(2) or "", match.group(3)
    tag, digest = match.group(4) or "", match.group(5) or ""
    if not digest and not tag:
        tag = "latest"
    return ImageInfo(registry, path.rsplit("/", 1)[-1], path, tag, digest)
