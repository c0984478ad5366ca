"""What `GET /metrics` shows (Prometheus text format), counted as the work is done.

One registry per App, not prometheus-client's global one: tests, and several apps in one
process, each count their own. Counting is a dictionary look-up and an addition: the cost
on the update path is measured in bench/README.md. The gauges that describe the database
(the outbox backlog, the scheduler lock's holders, the Zalo OA token) are read at a scrape
(bot/scrape.py), so an idle bot does no work for them.

Label values are a channel's name and a word from a short fixed list, never a user's id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

# Update outcomes (tiepdan_updates_total{outcome}):
HANDLED = "handled"  # finished: its replies sent (or none owed)
APOLOGISED = "apologised"  # the engine failed on it and the citizen got the apology with its ref
FAILED = "failed"  # not finished here (logged): handled again at the next start or by another worker
IGNORED = "ignored"  # of a kind not handled (a newer Bot API's)
DUPLICATE = "duplicate"  # delivered again: stored before, not handled twice
RESENT = "resent"  # its replies sent again after a crash (they may not have gone out)
UNSTORED = "unstored"  # the database could not take it: a webhook answered 503, a poll retries
OUTCOMES = (HANDLED, APOLOGISED, FAILED, IGNORED, DUPLICATE, RESENT, UNSTORED)

# Seconds from an update accepted to its replies sent; past a minute an update waits on
# another worker (ORDER_PATIENCE_S).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # CPU seconds, memory, open files of the process
        self.updates = Counter(
            "tiepdan_updates",
            "Updates from the messengers, by channel and outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self.reply_latency = Histogram(
            "tiepdan_update_reply_seconds",
            "From an update accepted (stored) to its replies sent",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.notices = Counter(
            "tiepdan_notices",
            "Notices the outbox tried to send, by channel and result "
            "(sent; retry: a failed try, sent again later; failed: given up; unreachable; "
            "undeliverable: outside the chat window; withdrawn: no longer relevant)",
            ["channel", "result"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "tiepdan_rate_limited",
            "Requests a platform refused for their rate (429 or Zalo's -32)",
            ["channel"],
            registry=registry,
        )
        self.zalo_token_refusals = Counter(
            "tiepdan_zalo_oa_token_refresh_refused",
            "Zalo OA token refreshes refused (an OA admin must grant access again)",
            registry=registry,
        )
        self.holds_tick_lock = False
        self.lock_held = Gauge(
            "tiepdan_scheduler_lock_held",
            "1 while this worker holds the scheduler lock (it sends the "
            "outbox and sweeps), as of its last tick",
            registry=registry,
        )
        # Read at a scrape (bot/scrape.py):
        self.lock_holders = Gauge(
            "tiepdan_scheduler_lock_holders",
            "Workers holding the scheduler lock (1 expected; 0: no notice goes out)",
            registry=registry,
        )
        self.workers_alive = Gauge(
            "tiepdan_workers_alive", "Workers alive at this worker's last heartbeat", registry=registry
        )
        self.outbox_backlog = Gauge(
            "tiepdan_outbox_backlog", "Notices due and not sent yet", registry=registry
        )
        self.outbox_oldest = Gauge(
            "tiepdan_outbox_oldest_due_seconds",
            "How long the oldest notice due and not sent has been due (0 when none)",
            registry=registry,
        )
        self.zalo_token_left = Gauge(
            "tiepdan_zalo_oa_token_expires_in_seconds",
            "Seconds the Zalo OA access token has left "
            "(refreshed on use, 30 minutes ahead; negative: expired)",
            registry=registry,
        )
        self.zalo_token_left.set(float("nan"))  # no token known (no Zalo OA, or not scraped yet)
        self.database_up = Gauge(
            "tiepdan_database_up", "1 when the database answered this scrape", registry=registry
        )

    def serving(self, channel: str) -> None:
        """Show the channel's series at 0 from the start: an alert on an absent series (no
        update at all since the start) would never fire."""
        for outcome in OUTCOMES:
            self.updates.labels(channel, outcome)
        self.reply_latency.labels(channel)
        self.rate_limited.labels(channel)
        for result in ("sent", "failed"):
            self.notices.labels(channel, result)

    # --- counted on the way --------------------------------------------------------------

    def update_done(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        """An update finished with `outcome`; `seconds` from accepting it to its replies sent,
        when it was accepted in this process."""
        self.updates.labels(channel, outcome).inc()
        if seconds is not None:
            self.reply_latency.labels(channel).observe(seconds)

    def tick_lock(self, held: bool) -> None:
        """Whether this worker holds the scheduler lock, as its last tick found."""
        self.holds_tick_lock = held
        self.lock_held.set(held)

    def notice_done(self, channel: str, result: str) -> None:
        self.notices.labels(channel, result).inc()

    def throttled(self, channel: str) -> None:
        """The platform answered 429 (each answer counts, retried or not)."""
        self.rate_limited.labels(channel).inc()
