"""Image names as Kyverno and Trivy Operator spell them, reduced to one match key."""

from __future__ import annotations

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.image_references import (
    parse_image,
    report_keys,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("image", "key"), [
    ("nginx", "docker.io/nginx:latest"),
    ("nginx:1.25", "docker.io/nginx:1.25"),
    ("library/nginx:1.25", "docker.io/nginx:1.25"),
    ("docker.io/nginx:1.25", "docker.io/nginx:1.25"),
    ("docker.io/library/nginx:1.25", "docker.io/nginx:1.25"),
    ("index.docker.io/library/nginx:1.25", "docker.io/nginx:1.25"),
    ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
    ("index.docker.io/bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
    # library/ goes only before a one-segment name
    ("docker.io/library/team/app:1", "docker.io/library/team/app:1"),
    ("ghcr.io/library/nginx:1", "ghcr.io/library/nginx:1"),
    ("registry.local:5000/team/app:2.0", "registry.local:5000/team/app:2.0"),
    ("registry.local:5000/app", "registry.local:5000/app:latest"),
    ("localhost/app:dev", "localhost/app:dev"),
    ("localhost:5000/app:dev", "localhost:5000/app:dev"),
    (f"nginx@{DIGEST}", f"docker.io/nginx@{DIGEST}"),
    # a digest wins over the tag, as kubelet pulls by digest
    (f"nginx:1.25@{DIGEST}", f"docker.io/nginx@{DIGEST}"),
    (f"quay.io/org/app:1@{DIGEST}", f"quay.io/org/app@{DIGEST}"),
])
def test_pod_images_get_one_match_key_whatever_the_spelling(image: str, key: str) -> None:
    assert parse_image(image).match_key == key


@pytest.mark.parametrize("image", ["", "Nginx", "nginx:", "nginx@sha256:short", "registry.local:5000/", "a b"])
def test_an_invalid_reference_is_refused_with_the_expected_form(image: str) -> None:
    with pytest.raises(HardeningError, match="not a valid container image reference"):
        parse_image(image)


def _report(server: str, repository: str, tag: str = "", digest: str = "") -> dict:
    return {"report": {"registry": {"server": server},
                       "artifact": {"repository": repository, "tag": tag, "digest": digest}}}


@pytest.mark.parametrize(("report", "keys"), [
    (_report("index.docker.io", "library/nginx", "1.25"), ("docker.io/nginx:1.25",)),
    (_report("index.docker.io", "bitnami/redis", "7.2"), ("docker.io/bitnami/redis:7.2",)),
    (_report("index.docker.io", "library/nginx", "1.25", DIGEST),
     ("docker.io/nginx:1.25", f"docker.io/nginx@{DIGEST}")),
    (_report("registry.local:5000", "team/app", "", DIGEST), (f"registry.local:5000/team/app@{DIGEST}",)),
    (_report("ghcr.io", "org/app", "v1"), ("ghcr.io/org/app:v1",)),
])
def test_trivy_reports_are_found_under_the_pod_spellings(report: dict, keys: tuple) -> None:
    assert report_keys(report) == keys


def test_the_naming_trap_a_report_matches_every_spelling_of_its_image() -> None:
    keys = report_keys(_report("index.docker.io", "library/nginx", "1.25"))
    for image in ("nginx:1.25", "docker.io/nginx:1.25", "library/nginx:1.25", "index.docker.io/library/nginx:1.25"):
        assert parse_image(image).match_key in keys
    assert parse_image("nginx:1.26").match_key not in keys
