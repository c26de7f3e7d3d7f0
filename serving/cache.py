"""What the API last read and serialised of a model's day of publications, reused while it is current.

Publications are append-only and never updated (ml.scoring.write_predictions writes a publication
and its rows in one transaction), so what /predict/today, /predict/race/{id} and /signals answer for
a model and a day changes only when a publication of that model and day is added. Each request
reads the day's publication key (how many publications, and the latest publication_id: one indexed
lookup, in the same query as the model) and reuses the races read and serialised under the same
key; any other key reads the warehouse again. The count is in the key as well as the latest id:
a concurrent scoring run may commit a lower id after a higher one.

staleness_ms is the age of each race's inputs at the time of the answer, not something published:
it is added to each race's cached body when answering."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from pydantic import BaseModel

from serving.schemas import RacePrediction

STALENESS = "staleness_ms"


SIGNAL_TERMS_KEPT = 16  # (min_edge, bankroll, kelly) asked of one published day, the most kept


@dataclass(frozen=True)
class PublishedDay:
    """The races of a model's day as published (queries.published_races, staleness left out), each
    race's RacePrediction JSON without its staleness_ms and closing brace, and the /signals
    answers asked of it so far (per (min_edge, bankroll, kelly): each Signal's JSON, open in the
    same way, with its race)."""

    key: tuple[int, int | None]
    races: list[dict]
    open_bodies: dict[str, bytes]
    signals: dict[tuple, list[tuple[bytes, dict]]] = field(default_factory=dict)

    def body(self, race: dict, now: dt.datetime) -> bytes:
        return with_staleness(self.open_bodies[race["race_id"]], race, now)

    def remember_signals(self, terms: tuple, bodies: list[tuple[bytes, dict]]) -> None:
        if len(self.signals) >= SIGNAL_TERMS_KEPT:
            self.signals.pop(next(iter(self.signals)))
        self.signals[terms] = bodies


def staleness_ms(race: dict, now: dt.datetime) -> int:
    return int((now - race["as_of"]).total_seconds() * 1000)


def open_body(shaped: BaseModel) -> bytes:
    """The JSON of a response part that has a staleness_ms, without it and without its closing brace."""
    return shaped.model_dump_json(exclude={STALENESS}).encode()[:-1]


def with_staleness(body: bytes, race: dict, now: dt.datetime) -> bytes:
    return body + b',"%s":%d}' % (STALENESS.encode(), staleness_ms(race, now))


def list_opening(envelope: BaseModel) -> bytes:
    """The JSON of a response whose last field is an empty list, up to that list's opening bracket."""
    return envelope.model_dump_json().encode().removesuffix(b"[]}") + b"["


def published_day(key: tuple[int, int | None], races: list[dict]) -> PublishedDay:
    bodies = {r["race_id"]: open_body(RacePrediction.model_validate(r | {STALENESS: 0})) for r in races}
    return PublishedDay(key=key, races=races, open_bodies=bodies)


class PublishedDays:
    """The last `capacity` (model_id, day) read, least recently used first out; thread-safe."""

    def __init__(self, capacity: int = 32):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, dt.date], PublishedDay] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: int, day: dt.date, key: tuple[int, int | None]) -> PublishedDay | None:
        with self._lock:
            found = self._entries.get((model_id, day))
            if found is None or found.key != key:
                return None
            self._entries.move_to_end((model_id, day))
            return found

    def put(self, model_id: int, day: dt.date, entry: PublishedDay) -> None:
        with self._lock:
            self._entries[(model_id, day)] = entry
            self._entries.move_to_end((model_id, day))
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


class SharedLookups:
    """Concurrent requests for the same key share one lookup, and never one already on its way.

    `fetch(*key)` runs for the first caller; callers who ask while it is in flight wait for it to
    end and then share the next fetch, started after they all asked. So every answer reflects the
    warehouse as it was at or after its request's arrival (a client that has just published reads
    its publication), while under N concurrent requests the warehouse sees about two lookups per
    round trip instead of N. Event-loop only (not thread-safe); an error reaches every caller of
    that fetch."""

    def __init__(self, fetch: Callable[..., Awaitable]):
        self._fetch = fetch
        self._running: set[Hashable] = set()  # the keys with a fetch in flight
        self._next: dict[Hashable, asyncio.Future] = {}  # what those who came during it will share

    async def get(self, *key: Hashable):
        if key not in self._running:
            answer = self._start(key)
        else:
            answer = self._next.get(key)
            if answer is None:
                answer = self._next[key] = asyncio.get_running_loop().create_future()
        # shielded: a caller that goes away (client disconnected) does not cancel the others' fetch
        return await asyncio.shield(answer)

    def _start(self, key: tuple, answer: asyncio.Future | None = None) -> asyncio.Future:
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
        self._running.add(key)
        task = asyncio.ensure_future(self._fetch(*key))
        task.add_done_callback(lambda done: self._finish(key, answer, done))
        return answer

    def _finish(self, key: tuple, answer: asyncio.Future, done: asyncio.Task) -> None:
        self._running.discard(key)
        if done.cancelled():
            answer.cancel()
        elif done.exception() is not None:
            answer.set_exception(done.exception())
        else:
            answer.set_result(done.result())
        waiting = self._next.pop(key, None)
        if waiting is not None:
            self._start(key, waiting)
