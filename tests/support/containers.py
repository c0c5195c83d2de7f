"""Debian's podman for the container image's test: a local base image, the image, containers.

There is no registry to pull ``python:3.12-slim`` from here, so the base image is made locally:
``debootstrap`` of Debian 13 (trixie: Python 3.13; bookworm's 3.11 is too old for kithost) with
``python3`` and ``python3-venv``, from the mirror apt is configured with, imported as an image.
The rootfs tarball and the image are kept between runs under a key made of that recipe; a
fresh machine makes them again (about a minute). The Makefile installs podman, runc and
debootstrap from Debian's packages.

What podman needs on this machine: the ``runc`` runtime (``--runtime runc``), a containers.conf
whose ``[containers]`` section sets ``default_ulimits = []``, and the host's network (the build's
pip reaches PyPI through it; the containers reach this machine's PostgreSQL and Redis).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["DEBOOTSTRAP", "PODMAN", "RUNC", "Podman", "debian_mirror"]

PODMAN = "/usr/bin/podman"
RUNC = "/usr/sbin/runc"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
SUITE = "trixie"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# The roots this machine trusts go into the base image, so that pip inside the build trusts
# what the host's pip does (a network may inspect TLS with a CA of its own).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE = Path(tempfile.gettempdir()) / "kithost-container-test"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]


def debian_mirror() -> str:
    """The Debian archive apt uses here (not its security archive), or Debian's own."""
    for path in APT_SOURCES:
        try:
            text = path.read_text()
        except OSError:
            continue
        for url in re.findall(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE):
            if re.search(r"/debian/?$", url):
                return url.rstrip("/")
    return DEFAULT_MIRROR


class Podman:
    """``podman --runtime runc`` with a containers.conf of its own (in ``CACHE``)."""

    def __init__(self) -> None:
        for binary in (PODMAN, RUNC, DEBOOTSTRAP):
            if not Path(binary).exists():
                raise RuntimeError(f"{binary} is missing: `make test` installs it")
        CACHE.mkdir(parents=True, exist_ok=True)
        self.conf = CACHE / "containers.conf"
        self.conf.write_text("[containers]\ndefault_ulimits = []\n")

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [PODMAN, "--runtime", "runc", *args],
            env={**os.environ, "CONTAINERS_CONF": str(self.conf)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"podman {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def background(self, *args: str) -> subprocess.Popen[bytes]:
        """A podman command left running (its output discarded); the caller waits for it."""
        return subprocess.Popen(
            [PODMAN, "--runtime", "runc", *args],
            env={**os.environ, "CONTAINERS_CONF": str(self.conf)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def base_image(self) -> str:
        """The local base image (made now if this recipe has none yet): its name."""
        recipe = {
            "suite": SUITE,
            "variant": "minbase",
            "packages": PACKAGES,
            "mirror": debian_mirror(),
            "roots": hashlib.sha256(HOST_CA_BUNDLE.read_bytes()).hexdigest(),
        }
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
        name = f"localhost/kithost-test-base:{SUITE}-{key}"
        with _locked(CACHE / f"base-{key}.lock"):
            if self("image", "exists", name, check=False).returncode == 0:
                return name
            tarball = CACHE / f"base-{key}.tar"
            if not tarball.exists():
                _debootstrap(recipe["mirror"], tarball)
            self("import", str(tarball), name)
        return name

    def build(self, context: Path, tag: str, base: str) -> float:
        """Build ``context``'s Dockerfile with ``BASE=base`` as ``tag``; the seconds it took.

        ``--format docker``: an OCI image has no HEALTHCHECK (podman would drop it).
        """
        started = time.monotonic()
        self(
            "build",
            "--network",
            "host",
            "--format",
            "docker",
            "--build-arg",
            f"BASE={base}",
            "--tag",
            tag,
            str(context),
            timeout=1200,
        )
        return time.monotonic() - started

    def volume_path(self, volume: str) -> Path:
        return Path(self("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip())

    def host_pid(self, container: str) -> int:
        return int(self("inspect", "--format", "{{.State.Pid}}", container).stdout.strip())


def _debootstrap(mirror: str, tarball: Path) -> None:
    """Debian ``SUITE`` with ``PACKAGES`` into a tarball (written whole or not at all)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        rootfs = Path(work) / "rootfs"
        command = [DEBOOTSTRAP, "--variant=minbase", f"--include={','.join(PACKAGES)}"]
        made = subprocess.run(
            [*command, SUITE, str(rootfs), mirror], capture_output=True, text=True, timeout=900
        )
        if made.returncode != 0:
            raise RuntimeError(f"debootstrap {SUITE} from {mirror} failed:\n{made.stdout[-4000:]}")
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        partial = tarball.with_suffix(".part")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One test run at a time makes a given base (another waits, then finds it made)."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield
