"""compose.yaml, deploy/haproxy.cfg and deploy/kithost.env.example agree with kithost and with
each other: the replicas are one image with one configuration, each keeps its own /data and all
share the files' volume, the balancer knows every replica at the image's port, every setting
named is one kithost reads, and HAProxy accepts its configuration.

tests/test_container_image.py runs the image twice behind that same HAProxy configuration.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.balancer import HAPROXY
from tests.support.setting_names import setting_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
ENV_EXAMPLE = ROOT / "deploy" / "kithost.env.example"
SETTING = re.compile(r"\b(?:KITHOST_[A-Z0-9_]+|OPENAI_API_KEY|OPENAI_BASE_URL)\b")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def replicas() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: spec for name, spec in services.items() if name.startswith("kithost-")}


def image_setting(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", (ROOT / "Dockerfile").read_text())
    assert match, name
    return match.group(1)


def test_two_replicas_of_one_image_with_one_configuration() -> None:
    specs = replicas()
    assert sorted(specs) == ["kithost-1", "kithost-2"]
    shared = [{k: v for k, v in spec.items() if k != "volumes"} for spec in specs.values()]
    assert shared[0] == shared[1]
    assert shared[0]["build"] == "."
    assert shared[0]["env_file"] == ["deploy/kithost.env"]
    assert {"postgres", "redis", "haproxy"} <= set(compose()["services"])
    environment = dict(item.split("=", 1) for item in shared[0]["environment"])
    assert environment["KITHOST_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert environment["KITHOST_REDIS_URL"].startswith("redis://redis:")
    # The drain fits in the time compose gives a stopping container before killing it.
    grace = int(shared[0]["stop_grace_period"].removesuffix("s"))
    assert grace > float(environment["KITHOST_DRAIN_SECONDS"]) + float(
        environment["KITHOST_DRAIN_NOTICE_SECONDS"]
    )


def test_each_replica_has_its_own_data_and_all_share_the_files() -> None:
    data_dir = image_setting("KITHOST_DATA_DIR")
    mounts = {
        name: dict(reversed(volume.split(":")[:2]) for volume in spec["volumes"])
        for name, spec in replicas().items()
    }
    own = [mount[data_dir] for mount in mounts.values()]
    assert len(set(own)) == len(own)
    assert {mount[f"{data_dir}/files"] for mount in mounts.values()} == {"kithost-files"}
    declared = set(compose()["volumes"])
    for mount in mounts.values():
        named = {source for source in mount.values() if not source.startswith(".")}
        assert named <= declared


def test_the_balancer_sends_to_every_replica_at_the_image_port() -> None:
    port = image_setting("KITHOST_PORT")
    config = HAPROXY_CONFIG.read_text()
    servers = re.findall(r"^\s+server (\S+) (\S+)$", config, re.MULTILINE)
    expected = [(name, f"{name}:{port}") for name in sorted(replicas())]
    # Two backends: round robin, and by session for the conversation endpoint.
    assert sorted(servers) == sorted(expected * 2)
    assert "option httpchk GET /healthz" in config
    haproxy = compose()["services"]["haproxy"]
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    bind = re.search(r"^\s+bind :(\d+)$", config, re.MULTILINE)
    assert bind
    assert haproxy["ports"] == [f"{bind.group(1)}:{bind.group(1)}"]


def test_haproxy_accepts_the_configuration() -> None:
    check = subprocess.run(
        [HAPROXY, "-c", "-f", str(HAPROXY_CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr
    assert "Configuration file is valid" in check.stdout


def test_every_setting_named_is_one_kithost_reads() -> None:
    named = set(SETTING.findall(COMPOSE.read_text() + ENV_EXAMPLE.read_text()))
    assert {"KITHOST_PUBLIC_URL", "KITHOST_CORS_ORIGINS", "KITHOST_DATABASE_URL"} <= named
    assert named - setting_names() == set()
