"""What `tiepdan run` loads: aiogram with its types built when first used
(bot/channels/telegram/lazy_types.py), no exporter (openpyxl, python-docx), no calendar
library, no alembic (it migrates in a child process). Each check runs in a fresh interpreter,
where nothing was imported before, as in `tiepdan run`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RSS = """
import re
def rss_mb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
"""


def run(code: str) -> dict[str, object]:
    """What `code` prints as JSON on its last line, run by a new interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RSS + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_every_type_and_method_builds_when_first_used() -> None:
    """What eager building checked at import: every model of aiogram builds, in the namespace
    it resolves names in, and validates what Telegram sends."""
    found = run(
        """
        import json, sys
        import bot.channels.telegram.runner  # what `tiepdan run` imports
        import aiogram.methods, aiogram.types
        from pydantic import BaseModel

        models = [
            value
            for module in (aiogram.types, aiogram.methods)
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseModel)
        ]
        deferred = sum(1 for model in models if not model.__pydantic_complete__)
        for model in models:
            model.model_rebuild()
        update = aiogram.types.Update.model_validate({
            "update_id": 7,
            "callback_query": {
                "id": "c", "chat_instance": "i", "data": "1:ep:3",
                "from": {"id": 5, "is_bot": False, "first_name": "A"},
                "message": {
                    "message_id": 9, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "?",
                    "reply_markup": {"inline_keyboard": [[{"text": "B", "callback_data": "1:ep:3"}]]},
                },
            },
        })
        print(json.dumps({
            "models": len(models),
            "deferred": deferred,
            "incomplete": [m.__name__ for m in models if not m.__pydantic_complete__],
            "button": update.callback_query.message.reply_markup.inline_keyboard[0][0].text,
        }))
        """
    )
    assert found["incomplete"] == [] and found["button"] == "B"
    assert isinstance(found["deferred"], int) and found["deferred"] > 300  # built at first use


def test_what_tiepdan_run_imports_weighs_less_than_aiogram_alone() -> None:
    stock = run('import aiogram, json\nprint(json.dumps({"rss": rss_mb()}))')
    ours = run(
        """
        import json
        import bot.cli, bot.channels.telegram.runner
        print(json.dumps({"rss": rss_mb()}))
        """
    )
    assert isinstance(stock["rss"], float) and isinstance(ours["rss"], float)
    assert ours["rss"] < stock["rss"] - 30, (ours, stock)  # ~100 MB against ~165 MB here


def test_serving_loads_no_exporter_calendar_or_migration_library() -> None:
    """They are loaded where they are used (an export, a reminder, `tiepdan db …`), so the
    server does not carry them for its whole life."""
    found = run(
        """
        import json, sys
        import bot.cli, bot.channels.telegram.runner, bot.channels.zalo.oa_webhook
        heavy = ("openpyxl", "docx", "icalendar", "alembic", "mako", "pygments")
        print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules} & set(heavy))}))
        """
    )
    assert found["loaded"] == []
