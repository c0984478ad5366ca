"""aiogram with its types built when first used, not all at import.

aiogram declares its Telegram types `defer_build=True`, then rebuilds every one of them at
import (aiogram/types/__init__.py, to resolve their forward references): some 400 pydantic
validators, each with its own copy of all it nests. That is about 105 MB of the process and a
second of start-up, for types a bot like this one never receives (aiogram#1513). Imported
first, this lets those rebuilds only hand each type the namespace its names resolve in;
pydantic then builds a type when it is first used, as `defer_build` means. What every update
needs (an Update, a Message) is built at once, and the models of the answers the bot reads
nest them: some 10 MB in all. Every type and method still builds
(tests/test_footprint.py builds them all). If aiogram is imported already, it is
left as aiogram made it.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

TYPES_PACKAGE = "aiogram.types"


def import_aiogram() -> None:
    """Import aiogram, its types deferred (once, and only if nothing imported it before)."""
    if "aiogram" in sys.modules:
        return
    rebuild = BaseModel.__dict__["model_rebuild"]
    namespaces: list[Any] = []

    def defer_types(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        if _types_namespace is None or force or not cls.__module__.startswith(f"{TYPES_PACKAGE}."):
            return rebuild.__func__(  # type: ignore[no-any-return]
                cls,
                force=force,
                raise_errors=raise_errors,
                _parent_namespace_depth=_parent_namespace_depth + 1,  # past this frame
                _types_namespace=_types_namespace,
            )
        cls.__pydantic_parent_namespace__ = _types_namespace  # where its names resolve, later
        namespaces.append(_types_namespace)
        return None

    BaseModel.model_rebuild = classmethod(defer_types)  # type: ignore[method-assign,assignment]
    try:
        import aiogram  # noqa: F401
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
    if namespaces:
        _name_resolution_for_the_rest(namespaces[-1])
        _build_what_every_update_needs()


def _name_resolution_for_the_rest(types_namespace: Any) -> None:
    """aiogram's other models (its methods, the generic `Response[...]` of each answer) nest
    types, so they resolve names in the same namespace when they are built: at first use, or
    when parametrized (a parametrized model inherits its origin's)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("aiogram.") or name.startswith(f"{TYPES_PACKAGE}."):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name:
                value.__pydantic_parent_namespace__ = types_namespace


def _build_what_every_update_needs() -> None:
    """Built now, not at the first update: its answer keeps its latency, and the answers'
    models built next (`Response[Message]`, …) nest these instead of copying them."""
    from aiogram.types import Message, Update

    for model in (Message, Update):
        model.model_rebuild()
