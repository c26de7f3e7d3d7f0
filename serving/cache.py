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

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

from serving.schemas import RacePrediction

STALENESS = "staleness_ms"


@dataclass(frozen=True)
class PublishedDay:
    """The races of a model's day as published (queries.published_races, staleness left out) and each
    race's RacePrediction JSON without its staleness_ms and closing brace."""

    key: tuple[int, int | None]
    races: list[dict]
    open_bodies: dict[str, bytes]

    def body(self, race: dict, now: dt.datetime) -> bytes:
        closing = b',"%s":%d}' % (STALENESS.encode(), staleness_ms(race, now))
        return self.open_bodies[race["race_id"]] + closing


def staleness_ms(race: dict, now: dt.datetime) -> int:
    return int((now - race["as_of"]).total_seconds() * 1000)


def published_day(key: tuple[int, int | None], races: list[dict]) -> PublishedDay:
    bodies = {}
    for race in races:
        shaped = RacePrediction.model_validate(race | {STALENESS: 0})
        bodies[race["race_id"]] = shaped.model_dump_json(exclude={STALENESS}).encode()[:-1]
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
