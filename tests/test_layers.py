"""Layers are floors and imports only point down (DESIGN.md §3): channels → dialog engine →
flows (`handlers/`) → storage; and flows get plain data from storage, never SQL or an ORM
object. Read from the source with `ast`, every import, lazy ones too."""

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


def orm_classes() -> set[str]:
    """The mapped classes of storage/models.py: `Base` and what derives from it."""
    tree = ast.parse((ROOT / "storage/models.py").read_text(encoding="utf-8"))
    mapped = {"Base"}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id in mapped for base in node.bases
        ):
            mapped.add(node.name)
    return mapped


def database_reach(path: Path) -> set[str]:
    """How a module reaches the database itself: SQLAlchemy, an ORM class (enums are plain
    values and may come along), or a method of the session (`ctx.db.get`, `db.execute`).
    Handing `ctx.db` on to storage is none of these."""
    mapped = orm_classes()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(
                alias.name
                for alias in node.names
                if alias.name.split(".")[0] == "sqlalchemy" or alias.name == "storage.models"
            )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "sqlalchemy":
                found.add(node.module)
            elif node.module == "storage.models":
                found.update(
                    f"storage.models.{alias.name}" for alias in node.names if alias.name in mapped | {"*"}
                )
            elif node.module == "storage":
                found.update("storage.models" for alias in node.names if alias.name == "models")
        elif isinstance(node, ast.Attribute):
            session = node.value
            if (isinstance(session, ast.Name) and session.id == "db") or (
                isinstance(session, ast.Attribute) and session.attr == "db"
            ):
                found.add(f"db.{node.attr}")
    return found


def test_flows_run_no_sql_and_touch_no_orm_object() -> None:
    reached = {
        (str(path.relative_to(ROOT)), what)
        for path in (ROOT / "handlers").rglob("*.py")
        for what in database_reach(path)
    }
    assert reached == set()


def test_the_database_check_sees_sql_orm_classes_and_session_calls() -> None:
    """It reads what it should: the notice sender and storage work on the database directly."""
    assert {"sqlalchemy", "storage.models.Notification", "db.get"} <= database_reach(ROOT / "bot/notify.py")
    review = database_reach(ROOT / "storage/review.py")
    assert "storage.models.SignUp" in review and "storage.models.CaseType" not in review  # an enum


def our_modules() -> dict[str, Path]:
    found = {}
    for folder in ("bot", "handlers", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_cycles() -> list[list[str]]:
    """Groups of our modules that import each other, directly or round a loop (Tarjan)."""
    modules = our_modules()
    graph = {}
    for name, path in modules.items():
        named = imports_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named |= {  # `from storage import outbox` imports the module storage.outbox
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            for alias in node.names
        }
        graph[name] = {module for module in named if module in modules and module != name}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_one_that_imports_it_back() -> None:
    """Not even lazily, inside a function: bot.settings learns the notice kinds from
    storage.outbox, not from bot.notify, which needs the settings."""
    assert import_cycles() == []
    assert "bot.settings" in imports_of(ROOT / "bot/notify.py")  # the scan sees an import at all


def builds_notices(path: Path) -> bool:
    """Whether the file makes a Notification or INSERTs into its table."""

    def names_notification(node: ast.AST) -> bool:
        return any(
            (isinstance(n, ast.Name) and n.id == "Notification")
            or (isinstance(n, ast.Attribute) and n.attr == "Notification")
            for n in ast.walk(node)
        )

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        )
        if called == "Notification":
            return True
        if "insert" in called.lower() and any(names_notification(n) for n in (func, *node.args)):
            return True
    return False


def test_notices_enter_the_outbox_through_one_door() -> None:
    """storage.outbox.queue: one kind enum, typed params, one dedupe-key recipe."""
    writers = {
        str(path.relative_to(ROOT))
        for folder in ("bot", "handlers", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if builds_notices(path)
    }
    assert writers == {"storage/outbox.py"}
