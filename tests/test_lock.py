"""The lock files (`make lock`): every package the runtime needs, transitive ones included, is
pinned with its hashes at a version pyproject's ranges allow, and the dev lock agrees with the
runtime lock. A package built from this tree and installed outside it (as `pip install .` and
the image do) finds its catalogs, demo data and migrations."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;.*?)?(?: \\)?$")


def locked(name: str) -> dict[NormalizedName, str]:
    """name -> version of each pin in a lock file, after checking every pin has its hashes."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    pins: dict[NormalizedName, str] = {}
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{name}: {line} has no hash"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


RUNTIME, DEV = locked("requirements.lock"), locked("requirements-dev.lock")


def requirements(group: str) -> list[Requirement]:
    if group == "build":
        return [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]
    if group == "runtime":
        return [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
    return [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"][group]]


def test_pyproject_gives_ranges_and_the_locks_pin_versions_inside_them() -> None:
    for group, lock in (("runtime", RUNTIME), ("build", RUNTIME), ("runtime", DEV), ("dev", DEV)):
        for requirement in requirements(group):
            if group in ("runtime", "dev"):  # a library user's resolver needs room: >=x.y,<next major
                assert not any(spec.operator == "==" for spec in requirement.specifier), requirement
                assert {spec.operator for spec in requirement.specifier} == {">=", "<"}, requirement
            version = lock.get(canonicalize_name(requirement.name))
            assert version is not None, f"{requirement.name} is not locked: run `make lock`"
            assert requirement.specifier.contains(version), (
                f"{requirement.name}=={version} not in {requirement}"
            )


def test_the_dev_lock_pins_the_runtime_packages_at_the_same_versions() -> None:
    assert {name: DEV.get(name) for name in RUNTIME} == RUNTIME


def test_the_runtime_lock_holds_every_package_the_runtime_needs_and_no_dev_tool() -> None:
    """Walked from tiepdan's installed metadata (this environment was installed from the dev lock)."""
    needed: set[NormalizedName] = set()
    todo = [(Requirement(text), "") for text in importlib.metadata.requires("tiepdan") or []]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        todo += [
            (Requirement(text), wanted)
            for wanted in ["", *sorted(requirement.extras)]
            if (name, wanted) not in needed
            for text in importlib.metadata.requires(requirement.name) or []
        ]
        needed.add(name)
    assert needed, "tiepdan's metadata lists no requirement"
    assert needed <= set(RUNTIME), f"not in requirements.lock: {sorted(needed - set(RUNTIME))}"
    for tool in requirements("dev"):
        assert canonicalize_name(tool.name) not in RUNTIME, f"{tool.name} is a dev tool"


@pytest.mark.timeout(300)
def test_a_package_installed_outside_the_tree_finds_its_catalogs_demo_data_and_migrations(
    tmp_path: Path,
) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path), str(ROOT)]
    subprocess.run(build, check=True, cwd=tmp_path, timeout=240)
    (wheel,) = tmp_path.glob("tiepdan-*.whl")
    target = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=60)
    python = target / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True, timeout=120
    )
    probe = (
        "import sys\n"
        "from bot import i18n\n"
        "from bot.demo import DEMO_ENDPOINTS\n"
        "from storage import migrate\n"
        "assert i18n.LOCALES_DIR.is_relative_to(sys.prefix), i18n.LOCALES_DIR\n"
        "assert len(i18n.load_catalog('vi')) == len(i18n.load_catalog('en')) > 100\n"
        "assert DEMO_ENDPOINTS.is_file(), DEMO_ENDPOINTS\n"
        "print(len(migrate.revisions()))\n"
    )
    # The dependencies from this environment (PYTHONPATH adds no .pth: not this tree's editable
    # install), tiepdan from the wheel, run from elsewhere than the tree.
    environment = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    ran = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert int(ran.stdout) == len(list((ROOT / "storage" / "migrations" / "versions").glob("0*.py")))
    helped = subprocess.run(
        [str(target / "bin" / "tiepdan"), "--help"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert helped.stdout.startswith("usage: tiepdan"), helped.stderr
