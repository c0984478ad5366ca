"""Layers are floors and imports only point down (DESIGN.md §3): channels → dialog engine →
flows (`handlers/`) → storage. Read from the source with `ast`, every import, lazy ones too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def upward(folder: str, forbidden: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (str(path.relative_to(ROOT)), module)
        for path in (ROOT / folder).rglob("*.py")
        for module in imports_of(path)
        if module.split(".")[0] in forbidden or module.startswith(forbidden)
    }


def test_storage_imports_neither_the_application_nor_the_flows() -> None:
    assert upward("storage", ("bot", "handlers")) == set()


def test_the_engine_and_the_channels_import_no_flow() -> None:
    assert upward("bot/dialog", ("handlers",)) == set()
    assert upward("bot/channels", ("handlers",)) == set()


def test_only_the_telegram_channel_imports_aiogram() -> None:
    outside = {
        (file, module)
        for folder in ("bot", "handlers", "storage")
        for file, module in upward(folder, ("aiogram",))
        if not file.startswith("bot/channels/telegram/")
    }
    assert outside == set()


def test_the_check_sees_an_upward_import() -> None:
    """The scan reads what it should: the wiring imports the flows, as it must."""
    assert ("bot/app.py", "handlers.registry") in upward("bot", ("handlers",))
