"""The predictions API (FastAPI): `create_app(db_url)` serves what modeling/predictions published.

Every request borrows a connection from a psycopg pool whose sessions are read-only (the API
cannot write the warehouse); statements that must agree are read in one transaction. What was
published for a model and a day is cached while the day's publications are unchanged
(serving/cache.py): /predict/today, /predict/race/{id} and /signals then cost one indexed lookup,
on the event loop, shared by the requests that arrive while it is in flight. Inputs are typed
(dates, numbers) or validated (race ids) before any query, and reach SQL only as bound parameters
(serving/queries.py). A database that cannot be reached answers 503 with the reason; the server
keeps running and the pool reconnects once the database is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

import psycopg
import psycopg_pool
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pmu_core.facts import DEFAULT_MIN_EDGE, KELLY_CAP, PARIS, parse_race_id
from serving import queries
from serving.cache import (
    PublishedDay,
    PublishedDays,
    SharedLookups,
    list_opening,
    open_body,
    published_day,
    with_staleness,
)
from serving.schemas import (
    AccuracyDay,
    AuditTrail,
    DayPredictions,
    Health,
    ModelInfo,
    ModelRef,
    Problem,
    RacePrediction,
    Signal,
    Signals,
)

READ_ONLY_SESSION = "set session characteristics as transaction read only"
POOL_TIMEOUT_S = 2.0  # a request waits this long for a connection before answering 503
DEFAULT_KELLY_MULTIPLIER = 0.25  # a quarter Kelly: the probabilities are estimates
DEFAULT_BANKROLL = 100.0

ERRORS = {404: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}}


def value_bets(published: PublishedDay, min_edge: float, bankroll: float, kelly: float) -> list:
    """(Signal, its race) for each runner of the published day with an edge above `min_edge`, the
    largest edge first; staleness_ms is left at 0 (the answer adds it)."""
    out = []
    for race in published.races:
        for runner in race["runners"]:
            edge = runner["edge"]
            if edge is None or edge <= min_edge:
                continue
            odds = (1.0 + edge) / runner["probability"]  # the odds the edge was computed at
            share = queries.fractional_kelly(runner["probability"], odds, kelly)
            signal = Signal(
                race_id=race["race_id"],
                race_start_at=race["race_start_at"],
                num_pmu=runner["num_pmu"],
                probability=runner["probability"],
                market_odds=runner["market_odds"],
                edge=edge,
                stake_fraction=share,
                stake=round(share * bankroll, 2),
                as_of=race["as_of"],
                staleness_ms=0,
                publication_id=race["publication_id"],
            )
            out.append((signal, race))
    out.sort(key=lambda pair: -pair[0].edge)
    return out


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    db_url: str,
    *,
    today: dt.date | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    max_connections: int = 8,
) -> FastAPI:
    """The API over the warehouse at `db_url`. `today`: the day /predict/today and the dashboard
    show (default: the current day in Paris; a replayed or synthetic day otherwise). `clock`: what
    staleness is measured against."""

    # Every statement is its own read-only transaction (no BEGIN/COMMIT round trips on the hot
    # path); read(snapshot=True) wraps several statements that must agree in one transaction.
    def configure(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute(READ_ONLY_SESSION)

    async def configure_async(conn: psycopg.AsyncConnection) -> None:
        await conn.set_autocommit(True)
        await conn.execute(READ_ONLY_SESSION)

    # Two pools of read-only sessions: `pool` for the endpoints that read in a worker thread, and
    # `lookups` for the one query of the cached endpoints, which run on the event loop (no thread
    # hop per request). No check on each checkout (a round trip per request): a connection broken
    # under a request fails it with 503 and is discarded, and that failure has the idle
    # connections of both pools checked at once.
    sizing = {"min_size": 1, "max_size": max_connections, "open": False, "timeout": POOL_TIMEOUT_S}
    pool = psycopg_pool.ConnectionPool(db_url, configure=configure, name="pmu-serving", **sizing)
    lookups = psycopg_pool.AsyncConnectionPool(
        db_url, configure=configure_async, name="pmu-serving-lookups", **sizing
    )
    checking = threading.Lock()
    lookup_checks: set[asyncio.Task] = set()

    def check_idle_connections() -> None:
        if checking.acquire(blocking=False):  # one check at a time, however many requests failed
            try:
                pool.check()
            finally:
                checking.release()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # a database that is down must not stop the server from starting
        pool.open(wait=False)
        await lookups.open(wait=False)
        try:
            yield
        finally:
            await lookups.close()
            pool.close()

    app = FastAPI(
        title="pmu-warehouse predictions",
        description="Published win probabilities, value signals, the audit trail of what was published "
        "and past accuracy. Race ids: YYYY-MM-DD-R{meeting}-C{race}, e.g. 2025-11-05-R1-C1 "
        "(the race day in Europe/Paris).",
        version="1",
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.lookups = lookups

    @contextmanager
    def read(snapshot: bool = True) -> Iterator[psycopg.Connection]:
        """A pooled read-only session; with `snapshot`, its statements in one transaction."""
        with pool.connection() as conn:
            if not snapshot:
                yield conn
                return
            with conn.transaction():
                yield conn

    def current_day() -> dt.date:
        return today or clock().astimezone(PARIS).date()

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg_pool.PoolTimeout)
    async def database_down(_request: Request, exc: Exception):
        threading.Thread(target=check_idle_connections, daemon=True).start()
        if not lookups.closed and not lookup_checks:
            task = asyncio.get_running_loop().create_task(lookups.check())
            lookup_checks.add(task)  # held until done, one at a time
            task.add_done_callback(lookup_checks.discard)
        return JSONResponse(status_code=503, content={"detail": f"database unavailable: {exc}"})

    def checked_model_ref(ref: str | None) -> str | None:
        if ref is not None:
            name, sep, version = ref.partition("@")
            if not name or (sep and not version.isdigit()):
                raise HTTPException(422, f"bad model {ref!r}: expected NAME or NAME@VERSION")
        return ref

    def found_or_404(found: dict | None, ref: str | None) -> dict:
        if found is None:
            what = f"model {ref!r}" if ref else "production model"
            raise HTTPException(404, f"no {what} in modeling.models")
        return found

    def model_or_404(conn, ref: str | None) -> dict:
        return found_or_404(queries.resolve_model(conn, checked_model_ref(ref)), ref)

    def ref_of(model: dict) -> ModelRef:
        return ModelRef(id=model["id"], name=model["name"], version=model["version"])

    published_days = PublishedDays()
    app.state.published_days = published_days

    def read_published_day(model_id: int, day: dt.date, key: tuple[int, int | None]) -> PublishedDay:
        with read(snapshot=False) as conn:
            races = queries.published_races(conn, model_id, day, now=clock())
        found = published_day(key, races)
        published_days.put(model_id, day, found)
        return found

    async def resolve_model(ref: str | None, day: dt.date) -> dict | None:
        async with lookups.connection() as conn:
            return await queries.resolve_model_async(conn, ref, day)

    model_lookups = SharedLookups(resolve_model)

    async def latest_published(day: dt.date, model: str | None) -> tuple[dict, PublishedDay]:
        """The model and what it last published for `day`: from the cache while the day's
        publication key is unchanged (one query, shared by concurrent requests: SharedLookups),
        else read and cached. On a miss the races are read after the key, so they are at least as
        new as it: a publication committed between the two only makes the next request read again."""
        ref = checked_model_ref(model)  # a malformed reference is a 422 even with the database down
        chosen = found_or_404(await model_lookups.get(ref, day), model)
        key = (chosen["day_publications"], chosen["day_latest_publication"])
        found = published_days.get(chosen["id"], day, key)
        if found is None:
            found = await run_in_threadpool(read_published_day, chosen["id"], day, key)
        return chosen, found

    def json_response(body: bytes) -> Response:
        return Response(content=body, media_type="application/json")

    def day_predictions(
        day: dt.date, model: str | None, as_of: dt.datetime | None = None, *, with_publications: bool = False
    ) -> dict:
        with read() as conn:
            chosen = model_or_404(conn, model)
            races = queries.published_races(conn, chosen["id"], day, as_of=as_of, now=clock())
            published = queries.publications(conn, chosen["id"], day, as_of) if with_publications else []
        return {
            "date": day,
            "model": ref_of(chosen),
            "as_of": as_of,
            "races": races,
            "publications": published,
        }

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    def health():
        try:
            with read() as conn:
                found = queries.health(conn)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            return JSONResponse(
                status_code=503, content=Health(database=f"unavailable: {exc}").model_dump(mode="json")
            )
        latest = found["latest_publication_at"]
        return Health(
            database="ok",
            latest_landed_day=found["latest_landed_day"],
            latest_scored_day=found["latest_scored_day"],
            production_models=[ref_of(m) for m in found["production_models"]],
            latest_publication_at=latest,
            latest_publication_age_s=(clock() - latest).total_seconds() if latest else None,
        )

    @app.get("/predict/today", response_model=DayPredictions, responses=ERRORS)
    async def predict_today(
        model: Annotated[str | None, Query(description="NAME or NAME@VERSION; default production")] = None,
    ):
        """Today's races (Europe/Paris) as last published by the model."""
        day = current_day()
        chosen, published = await latest_published(day, model)
        now = clock()
        envelope = DayPredictions(date=day, model=ref_of(chosen), as_of=None, races=[])
        races = b",".join(published.body(race, now) for race in published.races)
        return json_response(list_opening(envelope) + races + b"]}")

    @app.get("/predict/race/{race_id}", response_model=RacePrediction, responses=ERRORS)
    async def predict_race(
        race_id: str, model: Annotated[str | None, Query(description="NAME or NAME@VERSION")] = None
    ):
        """One race (id YYYY-MM-DD-R{n}-C{n}, e.g. 2025-11-05-R1-C1) as last published."""
        try:
            day = parse_race_id(race_id)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        chosen, published = await latest_published(day, model)
        race = next((r for r in published.races if r["race_id"] == race_id), None)
        if race is None:
            raise HTTPException(
                404, f"race {race_id} has no publication by {chosen['name']}@{chosen['version']}"
            )
        return json_response(published.body(race, clock()))

    @app.get("/predictions", response_model=AuditTrail, responses=ERRORS)
    def predictions(
        date: Annotated[dt.date, Query(description="race day, YYYY-MM-DD")],
        model: Annotated[str | None, Query(description="NAME or NAME@VERSION")] = None,
        as_of: Annotated[
            dt.datetime | None,
            Query(description="ISO time: what was published at or before it (naive = UTC); default now"),
        ] = None,
    ):
        """The audit trail: each race of the day as it was published at `as_of`, and the publications."""
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=dt.UTC)
        return day_predictions(date, model, as_of, with_publications=True)

    @app.get("/signals", response_model=Signals, responses=ERRORS)
    async def signals(
        date: Annotated[dt.date | None, Query(description="race day; default today")] = None,
        min_edge: Annotated[
            float, Query(ge=0, description="edge = p × odds - 1 above this")
        ] = DEFAULT_MIN_EDGE,
        model: Annotated[str | None, Query(description="NAME or NAME@VERSION")] = None,
        bankroll: Annotated[float, Query(gt=0)] = DEFAULT_BANKROLL,
        kelly: Annotated[
            float, Query(gt=0, le=1, description="fraction of Kelly")
        ] = DEFAULT_KELLY_MULTIPLIER,
    ):
        """Value bets of the latest publication per race, with a capped fractional-Kelly stake."""
        day = date or current_day()
        chosen, published = await latest_published(day, model)
        terms = (min_edge, bankroll, kelly)
        bodies = published.signals.get(terms)
        if bodies is None:
            bodies = [(open_body(signal), race) for signal, race in value_bets(published, *terms)]
            published.remember_signals(terms, bodies)
        envelope = Signals(
            date=day,
            model=ref_of(chosen),
            min_edge=min_edge,
            bankroll=bankroll,
            kelly_multiplier=kelly,
            kelly_cap=KELLY_CAP,
            signals=[],
        )
        now = clock()
        listed = b",".join(with_staleness(body, race, now) for body, race in bodies)
        return json_response(list_opening(envelope) + listed + b"]}")

    @app.get("/models", response_model=list[ModelInfo], responses=ERRORS)
    def list_models():
        with read() as conn:
            return queries.models(conn)

    @app.get("/accuracy", response_model=list[AccuracyDay], responses=ERRORS)
    def accuracy(
        model: Annotated[
            str | None, Query(description="NAME (every version) or NAME@VERSION; default all")
        ] = None,
        start: Annotated[dt.date | None, Query(description="first race day, inclusive")] = None,
        end: Annotated[dt.date | None, Query(description="last race day, inclusive")] = None,
    ):
        """marts.ml_model_daily_accuracy: each race judged on the last publication before its start."""
        with read() as conn:
            if model is not None and "@" in model:
                return queries.accuracy(conn, model_or_404(conn, model), start, end)
            if model is not None and not any(m["name"] == model for m in queries.models(conn)):
                raise HTTPException(404, f"no model {model!r} in modeling.models")
            return queries.accuracy(conn, None, start, end, model_name=model)

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(model: Annotated[str | None, Query(description="NAME or NAME@VERSION")] = None):
        """The accuracy dashboard: server-rendered HTML and SVG, nothing loaded from elsewhere."""
        from serving.dashboard import render

        with read() as conn:
            return HTMLResponse(render(conn, current_day(), model_or_404(conn, model), now=clock()))

    return app
