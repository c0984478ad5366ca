"""`tiepdan db downgrade`: it drops tables with their data, so it takes a named revision and
`--yes`; a revision it cannot go to is explained, never shown as a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot import cli
from storage import migrate
from tests.test_migrations import ALL_TABLES, current_revision, head, table_names


@pytest.fixture
def command_on(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tiepdan` run against the test database (and no .env)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    return database_url


def test_no_revision_is_refused_and_drops_nothing(
    command_on: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["db", "downgrade"])
    assert stopped.value.code == 2
    assert "revision" in capsys.readouterr().err
    assert asyncio.run(table_names(command_on)) == ALL_TABLES


@pytest.mark.parametrize(("revision", "lost"), [("base", "every table"), ("0002", "added after 0002")])
def test_without_yes_it_says_what_would_be_lost_and_drops_nothing(
    command_on: str, capsys: pytest.CaptureFixture[str], revision: str, lost: str
) -> None:
    assert cli.main(["db", "downgrade", revision]) == 2
    told = capsys.readouterr().err
    assert lost in told and f"tiepdan db downgrade {revision} --yes" in told
    assert asyncio.run(current_revision(command_on)) == head()
    assert asyncio.run(table_names(command_on)) == ALL_TABLES


def test_with_a_revision_and_yes_it_downgrades(command_on: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        assert cli.main(["db", "downgrade", "0002", "--yes"]) == 0
        assert "database downgraded to 0002" in capsys.readouterr().out
        assert asyncio.run(current_revision(command_on)) == "0002"
        # Above the database's revision: Alembic's reason, and the revisions there are.
        assert cli.main(["db", "downgrade", "0003", "--yes"]) == 2
        told = capsys.readouterr().err
        assert told.startswith("tiepdan: cannot downgrade: ") and "0003" in told
        assert "Traceback" not in told
    finally:
        asyncio.run(migrate.upgrade(command_on))
    assert asyncio.run(current_revision(command_on)) == head()


@pytest.mark.parametrize("confirmed", [[], ["--yes"]])
def test_an_unknown_revision_is_explained(
    command_on: str, capsys: pytest.CaptureFixture[str], confirmed: list[str]
) -> None:
    assert cli.main(["db", "downgrade", "0099", *confirmed]) == 2
    told = capsys.readouterr().err
    assert "Can't locate revision identified by '0099'" in told
    assert "base  no tables at all" in told and "0001  initial schema" in told
    assert "Traceback" not in told
    assert asyncio.run(current_revision(command_on)) == head()


@pytest.mark.parametrize("confirmed", [[], ["--yes"]])
def test_a_downgrade_to_the_revision_it_is_at_says_so_and_does_nothing(
    command_on: str, capsys: pytest.CaptureFixture[str], confirmed: list[str]
) -> None:
    try:
        asyncio.run(migrate.downgrade(command_on, "0003"))
        assert cli.main(["db", "downgrade", "0003", *confirmed]) == 0
        told = capsys.readouterr()
        assert "already at revision 0003; nothing to downgrade" in told.out
        assert "drops" not in told.out + told.err
        assert asyncio.run(current_revision(command_on)) == "0003"
        assert asyncio.run(migrate.downgrade(command_on, "base")) is None
        assert cli.main(["db", "downgrade", "base", *confirmed]) == 0
        assert "already at revision base" in capsys.readouterr().out
    finally:
        asyncio.run(migrate.upgrade(command_on))
    assert asyncio.run(current_revision(command_on)) == head()
