"""The execution environment, as the lab can have it without a container engine (the image the lab's
kubelet runs Jobs of, and what the tests run scheduled jobs' commands in): a scratch venv and
collections path built from the files of the build context `make ee` writes (not from the checkout):
the image's Python when this machine has it, `_build/requirements.txt`, the ansible-core and
ansible-runner of the Containerfile, and the collection installed from `_build/collections`' tarball at
the path the image has it (below a scratch root). A missing dependency or a wrong path in the image
definition fails here as it would in the cluster."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
IMAGE_COLLECTIONS = "/usr/share/ansible/collections"


@dataclass(frozen=True)
class ScratchEnvironment:
    root: Path
    bin: Path

    @property
    def collections(self) -> Path:
        """Where the image has its collections (/usr/share/ansible/collections), below the scratch root."""
        return self.root / IMAGE_COLLECTIONS.lstrip("/")

    def image_path(self, path: str) -> str:
        """A path of the image (a CronJob's playbook) as it is in the scratch environment."""
        return str(self.root / path.lstrip("/")) if path.startswith(IMAGE_COLLECTIONS) else path

    def env(self) -> dict[str, str]:
        return {"ANSIBLE_COLLECTIONS_PATH": str(self.collections),
                "PATH": os.pathsep.join([str(self.bin), os.environ.get("PATH", "")])}


def image_python(containerfile: str) -> str:
    """The Containerfile's interpreter version (ARG PYCMD), from this machine or pyenv; else this one."""
    version = re.search(r'ARG PYCMD="/usr/bin/python(3\.\d+)"', containerfile)
    if version:
        # pyenv's own interpreters first: its shims fail unless that version is selected.
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version[1]}.*/bin/python")))
        found = shutil.which(f"python{version[1]}")
        candidates += [found] if found and "/shims/" not in found else []
        if candidates:
            return candidates[0]
    return sys.executable


def build_scratch_environment(target: Path) -> ScratchEnvironment:
    context = target / "context"
    created = subprocess.run([str(REPO / "scripts" / "ee-context")], capture_output=True, text=True, check=False,
                             env=dict(os.environ, EE_CONTEXT=str(context)), cwd=REPO, timeout=300)
    if created.returncode != 0:
        raise RuntimeError("scripts/ee-context failed: " + created.stdout + created.stderr)
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]+)"', containerfile)
    if not refs:
        raise RuntimeError("the Containerfile installs no ansible-core")
    venv = target / "venv"
    subprocess.run([image_python(containerfile), "-m", "venv", str(venv)], check=True, timeout=120)
    # --no-compile: the image compiles every installed module (48 s of CPU here, 27 s without); the Jobs
    # compile only what they import, once, into the venv's __pycache__. Bytecode changes no behaviour.
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    installed = subprocess.run([*pip, *refs[1].split(), "-r", str(context / "_build" / "requirements.txt")],
                               capture_output=True, text=True, check=False, timeout=900)
    if installed.returncode != 0:
        raise RuntimeError("pip install of the image's requirements failed: " + installed.stderr)
    environment = ScratchEnvironment(target / "root", venv / "bin")
    # The image's galaxy stage: its requirements.yml, with /build being the context's _build.
    requirements = target / "requirements.yml"
    requirements.write_text((context / "_build" / "requirements.yml").read_text(encoding="utf-8")
                            .replace(" /build/", f" {context}/_build/"), encoding="utf-8")
    # Without the test run's collections path: ansible-galaxy would find the checkout there and do nothing.
    clean = {name: value for name, value in os.environ.items() if not name.startswith("ANSIBLE_")}
    galaxy = subprocess.run([str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--offline", "--force",
                             "-r", str(requirements), "-p", str(environment.collections)],
                            capture_output=True, text=True, check=False, timeout=300, env=clean)
    if galaxy.returncode != 0:
        raise RuntimeError("ansible-galaxy collection install failed: " + galaxy.stdout + galaxy.stderr)
    return environment


def source_digest() -> str:
    """A digest of what the image is built from: every file of the checkout git knows or would add
    (a change to the collection or to the image definition is a new image)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True, cwd=REPO,
                            check=True, timeout=60).stdout.split(b"\0")
    digest = hashlib.sha256()
    for name in sorted(path for path in listed if path):
        path = REPO / os.fsdecode(name)
        if path.is_file():
            digest.update(name + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_environment(cache: Path = REPO / ".build" / "lab-images") -> ScratchEnvironment:
    """The execution environment of this checkout, built once and shared by every lab (a test session
    starts several): ``cache/<digest>``, built under a lock, reused while the sources are unchanged."""
    key = source_digest()
    target = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another lab (another pytest worker) may be building it
        environment = ScratchEnvironment(target / "root", target / "venv" / "bin")
        if not (target / "complete").is_file():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            environment = build_scratch_environment(target)
            (target / "complete").write_text(key, encoding="utf-8")
            for older in cache.iterdir():  # builds of earlier checkouts: a few hundred MB each
                if older.is_dir() and older.name != key:
                    shutil.rmtree(older, ignore_errors=True)
        return environment
