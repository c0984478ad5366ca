"""Benchmark: what the metrics cost on the update path, and what a scrape costs.

The same registrations as `telegram_updates.py` (each citizen's updates one after another,
all citizens at once, against the fake Bot API in a process of its own), in the same run,
alternately through two bot processes (bench/worker.py):

- `measured`: the whole stack as `tiepdan run` serves it, counting every update (outcome,
  latency histogram) and serving `GET /metrics`, scraped every SCRAPE_EVERY_S during the
  traffic (which checks that the counters move while it runs);
- `unmeasured`: the same stack whose metrics count nothing (no scrape).

CPU per update is the bot process's `process_time` over the traffic divided by the updates
(the scrapes' CPU included on the measured side). Rounds alternate the two so that the
machine's load falls on both alike; the median of the rounds is reported. Then, the bot
idle, a scrape's own CPU (the database gauges read, the text written) over SCRAPES scrapes.
Last, in this process, the calls the pipeline makes per update, timed alone.

    python -m bench.metrics_cost [--citizens 60] [--rounds 3] [--database-url URL]  (emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.common import REGISTRATION, engine_name, seeded_app
from bench.telegram_updates import Run, Script, Worker, converse, start_fake_server
from bot import logs, metrics
from bot.metrics import Metrics

SCRAPE_EVERY_S = 1.0  # Prometheus scrapes every 15 s by default: this is 15 times as often
SCRAPES = 50  # scrapes of an idle bot, for a scrape's own CPU
CALLS = 100_000  # the per-update calls timed alone


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def handled(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "tiepdan_updates_total" and sample.labels.get("outcome") == "handled"
    )


@dataclass
class Scraper:
    """Scrapes /metrics until stopped; keeps what `tiepdan_updates_total{handled}` showed."""

    url: str
    seen: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                async with http.get(self.url) as answer:
                    assert answer.status == 200
                    self.seen.append(handled(await answer.text()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=SCRAPE_EVERY_S)


async def measure(
    kind: str, api: str, url: str, scripts: dict[int, Script]
) -> tuple[Run, Scraper | None, float]:
    """One bot process: warmed up by a first citizen, then the traffic of the others; for
    `tiepdan`, scraped meanwhile, then SCRAPES scrapes of the idle bot (their CPU each)."""
    port = free_port() if kind == "tiepdan" else 0
    (recorder, first), *others = scripts.items()
    worker = await Worker.start(
        kind, api, url, str(recorder), *(["--metrics-port", str(port)] if port else [])
    )
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics") if port else None
    per_scrape = 0.0
    try:
        async with aiohttp.ClientSession() as http:
            await converse(http, api, worker, recorder, first, [])
            latencies: list[float] = []
            stop = asyncio.Event()
            scraping = asyncio.create_task(scraper.run(stop)) if scraper else None
            cpu, started = await worker.cpu(), time.perf_counter()
            await asyncio.gather(
                *(converse(http, api, worker, uid, script, latencies) for uid, script in others)
            )
            seconds = time.perf_counter() - started
            cpu = await worker.cpu() - cpu
            stop.set()
            if scraping is not None:
                await scraping
            if scraper is not None:
                before = await worker.cpu()
                for _ in range(SCRAPES):
                    async with http.get(scraper.url) as answer:
                        scraper.seen.append(handled(await answer.text()))
                per_scrape = (await worker.cpu() - before) / SCRAPES
    finally:
        await worker.quit()
    return Run(kind, len(latencies), seconds, cpu, latencies), scraper, per_scrape


def calls_alone() -> float:
    """Seconds per update of what the pipeline adds per update: its event (the reference id
    in a context variable) and its counting (outcome and latency)."""
    counting = Metrics()
    started = time.perf_counter()
    for _ in range(CALLS):
        with logs.event():
            counting.update_done("telegram", metrics.HANDLED, 0.05)
    return (time.perf_counter() - started) / CALLS


@dataclass
class Figures:
    engine: str
    citizens: int
    measured: list[Run]
    unmeasured: list[Run]
    scraped: list[list[float]]  # each round's: handled updates shown by each scrape, in order
    per_scrape: float
    per_update_calls: float

    @staticmethod
    def median_cpu(runs: list[Run]) -> float:
        return statistics.median(run.cpu_per_update for run in runs)

    def print(self) -> None:
        each = len(REGISTRATION)
        print(f"Metrics cost ({self.engine}): {self.citizens} citizens at once, {each} updates each")
        for measured, unmeasured in zip(self.measured, self.unmeasured, strict=True):
            print(f"  {'with metrics, scraped':<24}" + measured.line()[26:])
            print(f"  {'without metrics':<24}" + unmeasured.line()[26:])
        with_, without = self.median_cpu(self.measured), self.median_cpu(self.unmeasured)
        extra = with_ - without
        print(
            f"  CPU per update, median of {len(self.measured)} rounds: with {with_ * 1000:.3f} ms, "
            f"without {without * 1000:.3f} ms: {extra * 1e6:+.0f} µs ({extra / without * 100:+.1f} %)"
        )
        moving = sorted(self.scraped) == self.scraped and self.scraped[-1] > self.scraped[0]
        print(
            f"  /metrics scraped {len(self.scraped)} times: handled went {self.scraped[0]:.0f} → "
            f"{self.scraped[-1]:.0f} ({'rising' if moving else 'NOT rising'})"
        )
        print(f"  one scrape of an idle bot: {self.per_scrape * 1000:.2f} ms of CPU")
        print(f"  the pipeline's calls per update, timed alone: {self.per_update_calls * 1e6:.1f} µs")


async def run(citizens: int, rounds: int, url: str) -> Figures:
    fake, api = await start_fake_server()
    measured: list[Run] = []
    unmeasured: list[Run] = []
    scraped: list[list[float]] = []
    per_scrape: list[float] = []
    try:
        app = await seeded_app(url, datetime.now(UTC))
        await app.close()
        base = 10_000
        for round_number in range(rounds):
            order = ["tiepdan", "unmeasured"] if round_number % 2 == 0 else ["unmeasured", "tiepdan"]
            for kind in order:
                scripts = {base + n: REGISTRATION for n in range(citizens + 1)}
                base += citizens + 1
                done, scraper, cost = await measure(kind, api, url, scripts)
                if scraper is not None:
                    measured.append(done)
                    scraped.append(scraper.seen)
                    per_scrape.append(cost)
                else:
                    unmeasured.append(done)
    finally:
        fake.terminate()
        await fake.wait()
    return Figures(
        engine_name(url),
        citizens,
        measured,
        unmeasured,
        scraped,
        statistics.median(per_scrape),
        calls_alone(),
    )


async def main(citizens: int, rounds: int, database_url: str | None) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        figures = await run(citizens, rounds, database_url or f"sqlite+aiosqlite:///{tmp}/bench.db")
    figures.print()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(main(args.citizens, args.rounds, args.database_url))
