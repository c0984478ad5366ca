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


# Flows run no SQL and touch no mapped object (DESIGN.md §3, "the per-event budget"): storage
# hands them plain data. The staff flows still do until their conversion lands; each entry
# here must still be true (the test says when one can go).
NOT_YET_PLAIN = {
    ("handlers/staff/broadcast.py", "sqlalchemy"),
    ("handlers/staff/broadcast.py", "storage.models.Broadcast"),
    ("handlers/staff/broadcast.py", "storage.models.Endpoint"),
    ("handlers/staff/broadcast.py", "storage.models.ReceptionSession"),
    ("handlers/staff/common.py", "sqlalchemy"),
    ("handlers/staff/common.py", "storage.models.Endpoint"),
    ("handlers/staff/review.py", "storage.models.Registration"),
    ("handlers/staff/schedule.py", "sqlalchemy.orm"),
    ("handlers/staff/schedule.py", "storage.models.ReceptionSession"),
    ("handlers/staff/sessions.py", "sqlalchemy"),
    ("handlers/staff/sessions.py", "sqlalchemy.orm"),
    ("handlers/staff/sessions.py", "storage.models.Endpoint"),
    ("handlers/staff/sessions.py", "storage.models.ReceptionSession"),
    ("handlers/staff/sessions.py", "storage.models.Registration"),
}


def database_reach(folder: str) -> set[tuple[str, str]]:
    """(file, what) for every import of SQLAlchemy and of a mapped class (an ORM model; the
    enums of storage.models are plain values) in `folder`; the models module itself counts."""
    from storage import models

    found = set()
    for path in (ROOT / folder).rglob("*.py"):
        file = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
                found.update((file, m) for m in modules if m.split(".")[0] == "sqlalchemy")
                found.update((file, m) for m in modules if m == "storage.models")
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == "sqlalchemy":
                    found.add((file, node.module))
                elif node.module == "storage" and any(alias.name == "models" for alias in node.names):
                    found.add((file, "storage.models"))
                elif node.module == "storage.models":
                    for alias in node.names:
                        value = getattr(models, alias.name, None)
                        if isinstance(value, type) and issubclass(value, models.Base):
                            found.add((file, f"storage.models.{alias.name}"))
    return found


def test_flows_import_neither_sqlalchemy_nor_a_mapped_class() -> None:
    found = database_reach("handlers")
    assert found - NOT_YET_PLAIN == set()
    assert NOT_YET_PLAIN - found == set(), "converted: remove these from NOT_YET_PLAIN"


def test_the_database_check_sees_sqlalchemy_and_mapped_classes() -> None:
    """It tells a mapped class from an enum of the same module: storage imports both."""
    found = database_reach("storage")
    assert ("storage/registrations.py", "sqlalchemy") in found
    assert ("storage/registrations.py", "storage.models.Registration") in found
    assert ("storage/registrations.py", "storage.models.RegistrationStatus") not in found
