"""The image builds and its `tiepdan` runs. Needs a Docker daemon and the base images' registry,
so it runs only when asked for (TIEPDAN_DOCKER_TESTS=1): `make test` and CI skip it and do not
depend on Docker. tests/test_deploy.py checks the Dockerfile and compose.yaml without Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "tiepdan:test"


def docker_unavailable() -> str | None:
    """Why the test cannot run here, or None."""
    if os.environ.get("TIEPDAN_DOCKER_TESTS") != "1":
        return "set TIEPDAN_DOCKER_TESTS=1 to build the image (needs a Docker daemon and the registry)"
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        said = (info.stderr.strip().splitlines() or ["nothing"])[-1]
        return f"no Docker daemon answers `docker info` ({said})"
    return None


@pytest.mark.timeout(1800)  # a first build downloads the base image and the wheels
def test_the_image_builds_and_runs_tiepdan() -> None:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    subprocess.run(["docker", "build", "--tag", IMAGE, str(ROOT)], check=True, timeout=1700)
    built = time.monotonic() - started
    ran = subprocess.run(
        ["docker", "run", "--rm", IMAGE, "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    assert ran.stdout.startswith("usage: tiepdan")
    assert "run" in ran.stdout and "db" in ran.stdout
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", IMAGE, "-u"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert user.stdout.strip() != "0"  # not root
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", IMAGE],
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"image {IMAGE}: built in {built:.0f} s, {int(size.stdout) / 1e6:.0f} MB")
