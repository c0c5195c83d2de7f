"""The Dockerfile, built and run with Debian's podman (tests/support/containers.py).

The image is built on a local Debian base (``--build-arg BASE=…``: there is no registry to pull
``python:3.12-slim`` from), then run on the host's network against this machine's PostgreSQL and
Redis, and on its default SQLite file in the data volume. Through it, with the official SDK: a
session and a file; then what an operator relies on: the server runs as a user without
privileges, the image's health check passes, SIGTERM stops it cleanly, and the volume holds the
data that a new container on it finds again.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import redis
from openai.types.beta.chatkit import ChatSession

from kithost.pid_file import SIGTERM_EXIT_CODE
from tests.support.balancer import HAPROXY
from tests.support.chatkit_client import unique_user
from tests.support.containers import Podman
from tests.support.databases import fresh_database
from tests.support.ports import free_port
from tests.support.process import ADMIN_KEY

# A cold run makes the base image (debootstrap) and builds every layer: minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/kithost-test:latest"
# A Redis database of this test's own; it deletes only its own session's keys.
REDIS_URL = "redis://127.0.0.1:6379/12"
WORKFLOW = "wf_kithost_demo"  # the offline demo: the image's /workflows folder is empty
USER_ID = 10001  # the Dockerfile's `kithost` user
DATA = b"Bytes that must outlive the container.\n"


@pytest.fixture(scope="module")
def podman() -> Podman:
    return Podman()


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    podman.build(ROOT, IMAGE, podman.base_image())
    return IMAGE


@dataclass
class Container:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Containers:
    """Containers and volumes of one test, removed after it."""

    def __init__(self, podman: Podman, image: str):
        self.podman = podman
        self.image = image
        self.names: list[str] = []
        self.volumes: list[str] = []

    def volume(self) -> str:
        name = f"kithost-test-{secrets.token_hex(6)}"
        self.podman("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(
        self, env: dict[str, str], volumes: dict[str, str], timeout: float = 120
    ) -> Container:
        """A container of the image on the host's network, ready (``/healthz``); ``volumes``
        maps volume names to where they are mounted."""
        container = Container(f"kithost-test-{secrets.token_hex(6)}", free_port())
        settings = {**env, "KITHOST_PORT": str(container.port), "KITHOST_DRAIN_SECONDS": "2"}
        self.podman(
            "run",
            "--detach",
            "--name",
            container.name,
            "--network",
            "host",
            # No timer (this machine has no systemd for podman's); `healthcheck run` runs it.
            "--health-interval",
            "disable",
            *[f"--volume={name}:{path}" for name, path in volumes.items()],
            *[f"--env={key}={value}" for key, value in settings.items()],
            self.image,
        )
        self.names.append(container.name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state(container, "{{.State.Running}}") != "true":
                raise RuntimeError(f"the container exited:\n{self.logs(container)}")
            try:
                if httpx.get(f"{container.url}/healthz", timeout=2).status_code == 200:
                    return container
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the container never became ready:\n{self.logs(container)}")

    def state(self, container: Container, template: str) -> str:
        return self.podman("inspect", "--format", template, container.name).stdout.strip()

    def logs(self, container: Container) -> str:
        result = self.podman("logs", container.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        for name in self.names:
            self.podman("rm", "--force", "--time", "0", name, check=False)
        for name in self.volumes:
            self.podman("volume", "rm", "--force", name, check=False)


@pytest.fixture
def containers(podman: Podman, image: str) -> Iterator[Containers]:
    made = Containers(podman, image)
    yield made
    made.remove()


def sdk(container: Container) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{container.url}/v1", api_key=ADMIN_KEY, max_retries=0)


def process_ids(status: str) -> dict[str, list[int]]:
    """The Uid/Gid lines of /proc/<pid>/status: real, effective, saved and filesystem ids."""
    lines = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: [int(n) for n in lines[key].split()] for key in ("Uid", "Gid")}


def test_the_image_serves_as_a_user_and_keeps_its_data_in_the_volume(
    backend: str, database_url: str, podman: Podman, containers: Containers
) -> None:
    env = {"KITHOST_API_KEYS": ADMIN_KEY}
    if backend == "postgresql":
        env |= {"KITHOST_DATABASE_URL": database_url, "KITHOST_REDIS_URL": REDIS_URL}
    # Otherwise nothing: the default database is the SQLite file in the volume.
    volume = containers.volume()
    first = containers.start(env, {volume: "/data"})

    with sdk(first) as client:
        session = client.beta.chatkit.sessions.create(user=unique_user(), workflow={"id": WORKFLOW})
        upload = client.files.create(file=("notes.txt", DATA), purpose="user_data")
    assert session.status == "active"
    assert session.client_secret.startswith("ek_")

    # The server (the container's first process) runs as the image's user, not root.
    pid = podman.host_pid(first.name)
    ids = process_ids(Path(f"/proc/{pid}/status").read_text())
    assert ids == {"Uid": [USER_ID] * 4, "Gid": [USER_ID] * 4}
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [
        b"/opt/kithost/bin/kithost",
        b"serve",
    ]

    # The image's HEALTHCHECK (GET /healthz on KITHOST_PORT) passes.
    health = podman("healthcheck", "run", first.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr

    # The volume holds what the server wrote, owned by its user.
    data = podman.volume_path(volume)
    stored = data / "files" / upload.id[-2:] / upload.id
    assert stored.read_bytes() == DATA
    assert stored.stat().st_uid == USER_ID
    database_file = data / "kithost.db"
    assert database_file.exists() is (backend == "sqlite")

    # SIGTERM (podman stop) drains and ends the server with its own exit code.
    podman("stop", "--time", "30", first.name)
    assert containers.state(first, "{{.State.ExitCode}}") == str(SIGTERM_EXIT_CODE)
    assert "Application shutdown complete" in containers.logs(first)

    # A new container on the same volume (and database) finds the session and the file.
    second = containers.start(env, {volume: "/data"})
    with sdk(second) as client:
        assert client.files.content(upload.id).read() == DATA
        cancelled = client.beta.chatkit.sessions.cancel(session.id)
    assert cancelled.status == "cancelled"

    if backend == "postgresql":
        keys = redis.Redis.from_url(REDIS_URL)
        mine = list(keys.scan_iter(match=f"*{session.id}*"))
        if mine:
            keys.delete(*mine)
        keys.close()


# compose.yaml's layout: two containers of the image behind deploy/haproxy.cfg


@contextmanager
def haproxy(config: str, workdir: Path) -> Iterator[str]:
    """Debian's HAProxy with ``config``, in the foreground as our child; yields its URL."""
    port = free_port()
    path = workdir / "haproxy.cfg"
    path.write_text(config.replace("bind :8080", f"bind 127.0.0.1:{port}"))
    check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    log = (workdir / "haproxy.log").open("wb")
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/healthz"):
            assert proc.poll() is None, (workdir / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "HAProxy never answered"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def new_session(client: openai.OpenAI) -> ChatSession:
    return client.beta.chatkit.sessions.create(user=unique_user(), workflow={"id": WORKFLOW})


def served(containers: Containers, container: Container, route: str) -> int:
    """How many requests to ``route`` (a route template) the container's JSON log shows."""
    count = 0
    for line in containers.logs(container).splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            count += entry.get("event") == "request" and entry.get("route") == route
    return count


def test_two_containers_behind_the_compose_haproxy_share_files_and_survive_a_stop(
    podman: Podman, containers: Containers, tmp_path: Path
) -> None:
    """As compose.yaml runs them: one PostgreSQL and Redis, each replica its own /data and one
    shared volume for files' bytes, HAProxy with deploy/haproxy.cfg (addresses made local)."""
    with fresh_database("postgresql", tmp_path) as database_url:
        env = {
            "KITHOST_API_KEYS": ADMIN_KEY,
            "KITHOST_DATABASE_URL": database_url,
            "KITHOST_REDIS_URL": REDIS_URL,
            "KITHOST_LOG_FORMAT": "json",
        }
        files = containers.volume()
        replicas = [
            containers.start(env, {containers.volume(): "/data", files: "/data/files"})
            for _ in range(2)
        ]
        config = (ROOT / "deploy" / "haproxy.cfg").read_text()
        for number, replica in enumerate(replicas, start=1):
            config = config.replace(f"kithost-{number}:8000", f"127.0.0.1:{replica.port}")
        with haproxy(config, tmp_path) as url:
            balanced = Container("haproxy", int(url.rsplit(":", 1)[1]))
            assert httpx.get(f"{url}/metrics").status_code == 404  # scraped inside only
            with sdk(balanced) as client:
                upload = client.files.create(file=("shared.txt", DATA), purpose="user_data")
                # Round robin: each replica reads the bytes, whichever one stored them.
                for _ in range(4):
                    assert client.files.content(upload.id).read() == DATA
                content = "/v1/files/{file_id}/content"
                assert [served(containers, r, content) for r in replicas] == [2, 2]

                # A replica stopped (a deploy): every request through HAProxy is answered
                # meanwhile, by the stopping replica or by the other one (deploy/haproxy.cfg
                # retries a request that a stopping replica closed without an answer).
                stopping = podman.background("stop", "--time", "30", replicas[0].name)
                made = []
                try:
                    while stopping.poll() is None and len(made) < 1000:
                        made.append(new_session(client))
                finally:
                    assert stopping.wait(timeout=60) == 0
                made += [new_session(client) for _ in range(4)]  # the other one alone now
                assert {session.status for session in made} == {"active"}
                assert client.files.content(upload.id).read() == DATA
