"""A seeded corpus of hostile bodies for the replay server (tests/reliability, bench/reliability.py):
recorded (or synthetic) days copied with most of their race bodies mutated the ways a broken proxy,
a half-deployed API or an attacker would serve them, and a manifest of what was done to which URL.

`outcomes` then says what became of each mutated body in a warehouse after extraction and dbt:
parsed into staging rows, quarantined (landed, listed in staging.bodies_without_rows), rejected
(raw.rejected_bodies, bytes and reason kept), not fetched (a failure recorded with its URL) or lost
(none of those: the bug the suite exists to catch).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from psycopg2 import sql

# name -> what the body becomes (from its original bytes and a seeded generator)
MUTATIONS = (
    "truncated",
    "wrong_type",
    "missing_key",
    "renamed_key",
    "huge_string",
    "huge_number",
    "nul_escape",
    "nul_byte",
    "non_utf8",
    "bom",
    "deep_nesting",
    "html_200",
    "empty_200",
    "json_null",
)
OUTCOMES = ("rows", "quarantined", "rejected", "not_fetched", "lost")
_RACE_FILE = re.compile(
    r"^(\d{8})/R(\d+)/C(\d+)/(participants|performances-detaillees/pretty|rapports-definitifs)\.json$"
)
_ENDPOINT_OF = {
    "participants": "participants",
    "performances-detaillees/pretty": "performances",
    "rapports-definitifs": "rapports",
}
# the list each endpoint's staging model reads (a renamed or retyped one gives no rows)
_LIST_KEY = {"participants": "participants", "performances": "participants", "rapports": None}


@dataclass(frozen=True)
class Mutated:
    path: str  # API path under programme/, e.g. 05112025/R1/C1/participants
    endpoint: str
    day: str  # DDMMYYYY
    meeting_num: int
    race_num: int
    mutation: str


def _with_list(body, endpoint: str, change) -> bytes:
    """The body with the list its staging model reads changed by `change(container, key)`."""
    key = _LIST_KEY[endpoint]
    if key is None:  # rapports: a list of bet types, or {"rapportsDefinitifs": [...]}
        body = {"rapportsDefinitifs": body} if isinstance(body, list) else body
        key = "rapportsDefinitifs"
    change(body, key)
    return json.dumps(body, ensure_ascii=False).encode()


def mutate(original: bytes, endpoint: str, mutation: str, rng: random.Random) -> bytes:
    """`original` (a JSON body of `endpoint`) broken the way `mutation` says."""
    if mutation == "truncated":
        return original[: rng.randrange(1, len(original))]
    if mutation == "nul_byte":
        at = rng.randrange(1, len(original))
        return original[:at] + b"\x00" + original[at:]
    if mutation == "non_utf8":
        at = rng.randrange(1, len(original))
        return original[:at] + b"\xff\xfe" + original[at:]
    if mutation == "bom":
        return b"\xef\xbb\xbf" + original
    if mutation == "deep_nesting":
        levels = rng.choice((2_000, 10_000, 50_000))
        return b'{"participants": ' + b"[" * levels + b"]" * levels + b"}"
    if mutation == "html_200":
        return b"<html><body><h1>503 Service Unavailable</h1>maintenance</body></html>"
    if mutation == "empty_200":
        return b""
    if mutation == "json_null":
        return b"null"
    body = json.loads(original)
    if mutation == "wrong_type":
        return _with_list(body, endpoint, lambda c, k: c.__setitem__(k, {"0": c[k]}))
    if mutation == "missing_key":
        return _with_list(body, endpoint, lambda c, k: c.pop(k, None))
    if mutation == "renamed_key":
        return _with_list(body, endpoint, lambda c, k: c.__setitem__(k + "_v2", c.pop(k, None)))
    if mutation == "huge_string":
        return _with_list(body, endpoint, lambda c, k: c.__setitem__("commentaire", "é" * 300_000))
    if mutation == "huge_number":
        # valid JSON numbers no time or count can be: staging must null them, not fail the build
        text = original.decode()
        text, count = re.subn(r'("(?:dateRapport|date|dividende\w*)"\s*:\s*)-?[0-9.]+', r"\g<1>1e20", text)
        return (text if count else text.replace("{", '{"huge": 1e400, ', 1)).encode()
    if mutation == "nul_escape":
        return original.replace(b"{", b'{"note": "a\\u0000b", ', 1)
    raise ValueError(f"unknown mutation {mutation!r}; known: {', '.join(MUTATIONS)}")


def write_corpus(source: Path, out: Path, *, seed: int, share: float, clean_days: int = 1) -> list[Mutated]:
    """Copy the replay root `source` to `out` and mutate a `share` of the race bodies of every day
    but the last `clean_days` (left as they were: the days whose build must stay green), cycling
    through MUTATIONS in a seeded order. Returns the manifest."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out, symlinks=False)
    rng = random.Random(seed)
    days = sorted(p.name for p in out.iterdir() if p.is_dir() and re.fullmatch(r"\d{8}", p.name))
    days = sorted(days, key=lambda code: (code[4:], code[2:4], code[:2]))
    mutated_days = days[: max(0, len(days) - clean_days)]
    files = sorted(
        (path.relative_to(out).as_posix(), path)
        for code in mutated_days
        for path in (out / code).rglob("*.json")
    )
    chosen = [item for item in files if rng.random() < share]
    order = list(MUTATIONS)
    manifest = []
    for number, (relative, path) in enumerate(chosen):
        match = _RACE_FILE.match(relative)
        if match is None:
            continue
        if number % len(order) == 0:
            rng.shuffle(order)
        mutation = order[number % len(order)]
        endpoint = _ENDPOINT_OF[match.group(4)]
        path.write_bytes(mutate(path.read_bytes(), endpoint, mutation, rng))
        manifest.append(
            Mutated(
                relative.removesuffix(".json"),
                endpoint,
                match.group(1),
                int(match.group(2)),
                int(match.group(3)),
                mutation,
            )
        )
    if mutated_days:  # and one programme with an impossible start time and numbers as text
        _mutate_programme(out / f"{mutated_days[0]}.json")
    (out / "_hostile_manifest.json").write_text(json.dumps([asdict(m) for m in manifest], indent=1))
    return manifest


def _mutate_programme(path: Path) -> None:
    body = json.loads(path.read_bytes())
    meeting = body["programme"]["reunions"][0]
    meeting["numOfficiel"] = str(meeting["numOfficiel"])  # "1": the same race, to be fetched
    meeting["courses"][0]["heureDepart"] = 1e20  # valid JSON; no timestamp can hold it
    path.write_text(json.dumps(body, ensure_ascii=False))


_PERFORMANCE_RUNNERS = (
    "case jsonb_typeof(r.body -> 'participants') when 'array' then r.body -> 'participants' else '[]' end"
)
_STAGED = {  # endpoint -> (staging relation, its raw id column)
    "participants": ("stg_pmu__participant_snapshots", "snapshot_raw_id"),
    "performances": ("stg_pmu__past_performances", "performances_raw_id"),
    "rapports": ("stg_pmu__dividends", "rapports_raw_id"),
}


def outcomes(conn, manifest: list[Mutated]) -> list[tuple[Mutated, str]]:
    """What became of each mutated body (OUTCOMES), read from the warehouse after extraction and
    dbt: by URL path (the origin is a replay server's random port)."""

    def by_path(statement: sql.Composable) -> dict[str, object]:
        with conn.cursor() as cur:
            cur.execute(statement)
            return {re.sub(r"^.*/programme/", "", url): value for url, value in cur.fetchall()}

    rejected = by_path(sql.SQL("select url, reason from raw.rejected_bodies"))
    failed = by_path(sql.SQL("select url, reason from raw.fetch_log where outcome in ('failed', 'rejected')"))
    quarantined = by_path(sql.SQL("select url, reason from staging.bodies_without_rows"))
    staged: dict[str, object] = {}
    for endpoint, (relation, raw_id) in _STAGED.items():
        condition = "exists (select from {staged} as s where s.{raw_id} = r.raw_id)"
        if endpoint == "performances":  # runners without past races (debutants) parse into no rows
            condition += " or jsonb_array_length(" + _PERFORMANCE_RUNNERS + ") > 0"
        statement = sql.SQL("select r.url, true from {raw} as r where " + condition).format(
            raw=sql.Identifier("raw", f"pmu_{endpoint}"),
            staged=sql.Identifier("staging", relation),
            raw_id=sql.Identifier(raw_id),
        )
        staged |= by_path(statement)
    results = []
    for item in manifest:
        if item.path in staged:
            outcome = "rows"
        elif item.path in quarantined:
            outcome = "quarantined"
        elif item.path in rejected:
            outcome = "rejected"
        elif item.path in failed:
            outcome = "not_fetched"
        else:
            outcome = "lost"
        results.append((item, outcome))
    return results


def outcome_table(results: list[tuple[Mutated, str]]) -> dict[str, dict[str, int]]:
    """mutation -> outcome -> count (every OUTCOMES key present), plus a `total` row."""
    counts = Counter((item.mutation, outcome) for item, outcome in results)
    table = {m: {o: counts[(m, o)] for o in OUTCOMES} for m in MUTATIONS}
    table["total"] = {o: sum(row[o] for row in table.values()) for o in OUTCOMES}
    return table


def format_table(table: dict[str, dict[str, int]]) -> str:
    """The outcome table as Markdown (the README's)."""
    lines = ["| mutation | " + " | ".join(OUTCOMES) + " |", "|---" * (len(OUTCOMES) + 1) + "|"]
    for mutation, row in table.items():
        lines.append(f"| {mutation} | " + " | ".join(str(row[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)
