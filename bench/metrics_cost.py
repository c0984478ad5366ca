"""Benchmark: what the metrics cost on the update path, and what a scrape costs.

The same registrations as `telegram_updates.py` (each citizen's updates one after another,
all citizens at once, against the fake Bot API in a process of its own), in the same run,
at the same time through two bot processes (bench/worker.py):

- `measured`: the whole stack as `tiepdan run` serves it, counting every update (outcome,
  latency histogram) and serving `GET /metrics`, scraped every SCRAPE_EVERY_S during the
  traffic (which checks that the counters move while it runs);
- `unmeasured`: the same stack whose metrics count nothing (no scrape).

CPU per update is the bot process's `process_time` over the traffic divided by the updates
(the scrapes' CPU included on the measured side). The two run side by side, each with its
own fake Bot API (and on SQLite its own database file; the two swap sides each round), so
that the machine's load, which varies by tens of percent from one minute to the next here,
falls on both alike; each round's ratio is printed, and the median of the rounds. Then, the bot
idle, a scrape's own CPU (the database gauges read, the text written) over SCRAPES scrapes.
Last, in this process, the calls the pipeline makes per update, timed alone.

    python -m bench.metrics_cost [--citizens 40] [--rounds 5] [--database-url URL]  (emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from tests.fakes.local_http import free_port

SCRAPE_EVERY_S = 1.0  # Prometheus scrapes every 15 s by default: this is 15 times as often
SCRAPES = 50  # scrapes of an idle bot, for a scrape's own CPU
CALLS = 100_000  # the per-update calls timed alone


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


async def traffic(http: aiohttp.ClientSession, api: str, worker: Worker, scripts: dict[int, Script]) -> Run:
    """The citizens of `scripts` at once; the bot process's CPU over their traffic."""
    latencies: list[float] = []
    cpu, started = await worker.cpu(), time.perf_counter()
    await asyncio.gather(
        *(converse(http, api, worker, uid, script, latencies) for uid, script in scripts.items())
    )
    seconds = time.perf_counter() - started
    cpu = await worker.cpu() - cpu
    return Run("", len(latencies), seconds, cpu, latencies)


async def side_by_side(
    apis: tuple[str, str], urls: tuple[str, str], scripts: tuple[dict[int, Script], dict[int, Script]]
) -> tuple[Run, Run, Scraper, float]:
    """One round, both bot processes at once: each warmed up by its first citizen, then the
    traffic of their others at the same time, the measured one scraped meanwhile; then
    SCRAPES scrapes of it idle (their CPU each)."""
    port = free_port()
    warm = [next(iter(each.items())) for each in scripts]
    measured, unmeasured = await asyncio.gather(
        Worker.start("tiepdan", apis[0], urls[0], str(warm[0][0]), "--metrics-port", str(port)),
        Worker.start("unmeasured", apis[1], urls[1], str(warm[1][0])),
    )
    workers = (measured, unmeasured)
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(
                *(
                    converse(http, api, worker, uid, script, [])
                    for api, worker, (uid, script) in zip(apis, workers, warm, strict=True)
                )
            )
            others = [dict(list(each.items())[1:]) for each in scripts]
            stop = asyncio.Event()
            scraping = asyncio.create_task(scraper.run(stop))
            with_, without = await asyncio.gather(
                *(
                    traffic(http, api, worker, mine)
                    for api, worker, mine in zip(apis, workers, others, strict=True)
                )
            )
            stop.set()
            await scraping
            before = await measured.cpu()
            for _ in range(SCRAPES):
                async with http.get(scraper.url) as answer:
                    scraper.seen.append(handled(await answer.text()))
            per_scrape = (await measured.cpu() - before) / SCRAPES
    finally:
        await asyncio.gather(*(worker.quit() for worker in workers))
    return with_, without, scraper, per_scrape


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

    def ratios(self) -> list[float]:
        pairs = zip(self.measured, self.unmeasured, strict=True)
        return [measured.cpu_per_update / unmeasured.cpu_per_update for measured, unmeasured in pairs]

    def print(self) -> None:
        each = len(REGISTRATION)
        print(f"Metrics cost ({self.engine}): {self.citizens} citizens at once a side, {each} updates each")
        for number, (measured, unmeasured) in enumerate(zip(self.measured, self.unmeasured, strict=True), 1):
            measured.name, unmeasured.name = f"{number}: with metrics", f"{number}: without"
            print(measured.line())
            print(unmeasured.line())
        ratios = self.ratios()
        with_ = statistics.median(run.cpu_per_update for run in self.measured)
        without = statistics.median(run.cpu_per_update for run in self.unmeasured)
        print(
            f"  CPU per update (medians): with {with_ * 1000:.3f} ms, without {without * 1000:.3f} ms; "
            "with/without by round: "
            + ", ".join(f"{ratio:.3f}" for ratio in ratios)
            + f" (median {statistics.median(ratios):.3f})"
        )
        for seen in self.scraped:
            rising = sorted(seen) == seen and seen[-1] > seen[0]
            print(
                f"  /metrics scraped {len(seen)} times: handled went {seen[0]:.0f} → {seen[-1]:.0f} "
                f"({'rising, never falling' if rising else 'NOT RISING'})"
            )
        print(f"  one scrape of an idle bot: {self.per_scrape * 1000:.2f} ms of CPU")
        print(f"  the pipeline's calls per update, timed alone: {self.per_update_calls * 1e6:.1f} µs")


async def run(citizens: int, rounds: int, urls: tuple[str, str]) -> Figures:
    servers = [await start_fake_server(first_update_id) for first_update_id in (1, 10_000_000)]
    apis = (servers[0][1], servers[1][1])
    measured: list[Run] = []
    unmeasured: list[Run] = []
    scraped: list[list[float]] = []
    per_scrape: list[float] = []
    try:
        for url in dict.fromkeys(urls):  # one database for both on PostgreSQL
            await (await seeded_app(url, datetime.now(UTC))).close()
        base = 10_000
        for _ in range(rounds):
            first = {base + n: REGISTRATION for n in range(citizens + 1)}
            second = {base + citizens + 1 + n: REGISTRATION for n in range(citizens + 1)}
            base += 2 * (citizens + 1)
            # The sides swap each round: neither fake server nor database file favours one.
            swap = len(measured) % 2 == 1
            sides = (apis[::-1], urls[::-1]) if swap else (apis, urls)
            with_, without, scraper, cost = await side_by_side(*sides, (first, second))
            measured.append(with_)
            unmeasured.append(without)
            scraped.append(scraper.seen)
            per_scrape.append(cost)
    finally:
        for process, _ in servers:
            process.terminate()
            await process.wait()
    scrape = statistics.median(per_scrape)
    return Figures(engine_name(urls[0]), citizens, measured, unmeasured, scraped, scrape, calls_alone())


async def main(citizens: int, rounds: int, database_url: str | None) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{tmp}/bench"
        urls = (database_url, database_url) if database_url else (f"{sqlite}-a.db", f"{sqlite}-b.db")
        figures = await run(citizens, rounds, urls)
    figures.print()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: two temporary SQLite files")
    args = parser.parse_args()
    asyncio.run(main(args.citizens, args.rounds, args.database_url))
