"""What docker/docker-compose.yml gives each container, read from the files themselves: the
service's hostname and environment, the image's ENV, ENTRYPOINT + CMD (docker/Dockerfile) and its
default /conf/zoo.cfg (docker/zoo.cfg), with the volumes and /conf mapped to temp directories.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
# Where each image path lives on the host in this reproduction.
IMAGE_DIRS = ("/conf", "/data", "/datalog")


@dataclass
class Container:
    service: str
    hostname: str
    argv: list[str]  # ENTRYPOINT + CMD, with /conf, /data, /datalog mapped
    env: dict[str, str]  # image ENV + compose environment + what Docker adds
    root: Path  # host directory standing for the container's filesystem paths
    workdir: Path  # the image's WORKDIR (/data), mapped

    def mapped(self, image_path: str) -> str:
        return str(self.root / image_path.lstrip("/"))


def dockerfile_image() -> tuple[dict[str, str], list[str], str, str]:
    """(ENV, ENTRYPOINT + CMD, WORKDIR, default-config COPY target) of docker/Dockerfile."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    env: dict[str, str] = {}
    entry: list[str] = []
    cmd: list[str] = []
    workdir = "/"
    conf_target = ""
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif word == "ENTRYPOINT":
            entry = json.loads(rest)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "WORKDIR":
            workdir = rest.strip()
        elif word == "COPY" and "docker/zoo.cfg" in rest:
            conf_target = rest.split()[-1]
    return env, entry + cmd, workdir, conf_target


def compose_services(*paths: Path) -> dict[str, dict[str, object]]:
    """The services of docker-compose.yml, or of several files merged as `docker-compose -f A
    -f B` merges them: an override's environment entries replace or add to the base's, its
    volumes are added."""
    services: dict[str, dict[str, object]] = {}
    for path in paths or (DOCKER / "docker-compose.yml",):
        doc = yaml.safe_load(path.read_text())
        for name, svc in doc["services"].items():
            merged = services.setdefault(name, {})
            for key, value in svc.items():
                if key == "environment":
                    env = dict(_env_dict(merged.get("environment")))
                    env.update(_env_dict(value))
                    merged[key] = env
                elif key == "volumes":
                    old = merged.get("volumes") or []
                    assert isinstance(old, list)
                    merged[key] = [*old, *value]
                else:
                    merged[key] = value
    return services


def _env_dict(env: object) -> dict[str, object]:
    if env is None:
        return {}
    if isinstance(env, list):  # the KEY=VALUE list form
        return {k: v for k, _, v in (str(item).partition("=") for item in env)}
    assert isinstance(env, dict)
    return dict(env)


def _bind_mounts(c: Container, volumes: object) -> list[str]:
    """Copy each ./host-dir:/image-dir bind mount into the container's filesystem; the image
    paths it serves."""
    targets = []
    for v in volumes if isinstance(volumes, list) else []:
        source, _, rest = str(v).partition(":")
        if not source.startswith("."):
            continue  # a named volume
        target = rest.split(":")[0]
        shutil.copytree(DOCKER / source, c.mapped(target), dirs_exist_ok=True)
        targets.append(target)
    return targets


def build_containers(base: Path, pyzk_executable: str, *compose_files: Path) -> list[Container]:
    """One Container per compose service, its filesystem under base/<service>."""
    image_env, argv, workdir, conf_target = dockerfile_image()
    assert argv[:1] == ["pyzk"], f"unexpected ENTRYPOINT/CMD {argv}"
    assert conf_target, "Dockerfile no longer copies docker/zoo.cfg"
    out = []
    for name, svc in compose_services(*compose_files).items():
        root = base / name
        for d in IMAGE_DIRS:
            (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
        c = Container(name, str(svc.get("hostname", name)), [], {}, root,
                      root / workdir.lstrip("/"))
        # The image's zoo.cfg with its absolute image paths pointing into this container.
        cfg = (DOCKER / "zoo.cfg").read_text()
        for d in IMAGE_DIRS:
            cfg = re.sub(rf"=({re.escape(d)})(/|$)", f"={c.mapped(d)}\\2", cfg, flags=re.M)
        Path(c.mapped(conf_target)).write_text(cfg)
        c.argv = [pyzk_executable] + [
            c.mapped(a) if any(a == d or a.startswith(d + "/") for d in IMAGE_DIRS) else a
            for a in argv[1:]]
        env = _env_dict(svc.get("environment"))
        mounts = _bind_mounts(c, svc.get("volumes"))
        c.env = {"PATH": str(Path(pyzk_executable).parent) + ":/usr/local/bin:/usr/bin:/bin",
                 "HOSTNAME": c.hostname, "HOME": str(c.workdir), **image_env,
                 **{str(k): _map_paths(c, str(v), mounts) for k, v in env.items()}}
        out.append(c)
    return out


def _map_paths(c: Container, value: str, mounts: list[str]) -> str:
    """Image paths under a bind mount, in a variable's value, pointed at the copy."""
    for t in mounts:
        value = re.sub(rf"(?<![\w/]){re.escape(t)}(?=/|$|\s)", c.mapped(t), value)
    return value


def pyzk_executable() -> str:
    """The `pyzk` console script (the image's ENTRYPOINT) of this environment."""
    import sys

    beside = Path(sys.executable).parent / "pyzk"
    found = str(beside) if beside.exists() else shutil.which("pyzk")
    if not found:
        raise FileNotFoundError("the `pyzk` console script is not installed")
    return found
