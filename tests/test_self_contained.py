"""A fresh clone tests with nothing outside it: no file reads beyond the repository."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fakes.telegram_api import SPEC_PATH, load_spec

REPO = Path(__file__).resolve().parents[1]
CODE_DIRS = ("bot", "handlers", "storage", "tests", "bench")
# `parents[N]` reaching above the repository, or a path into the shared folder beside it.
OUTSIDE = re.compile(r"\.\./shared|parents\[[3-9]\]|/\s*\"shared\"")


def test_the_bot_api_spec_is_vendored_with_its_licence() -> None:
    assert SPEC_PATH.is_relative_to(REPO)
    assert (SPEC_PATH.parent / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "sendMessage" in load_spec()["methods"]


def test_no_code_reads_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for folder in CODE_DIRS
        for path in (REPO / folder).rglob("*.py")
        if path.resolve() != Path(__file__).resolve() and OUTSIDE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
