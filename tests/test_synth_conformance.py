"""Format fidelity: every synthetic body uses only key paths and value types that the real
recorded bodies (../shared/pmu) show, endpoint by endpoint."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import synth
from synth.schema import ENDPOINT_FILES, endpoint_files, key_paths, violations

pytestmark = pytest.mark.slow  # simulates and checks many synthetic days: not in the fast tier


def _real_roots(shared: Path) -> list[Path]:
    roots = [shared / "replay", shared / "history" / "final", shared / "history" / "morning"]
    roots += sorted((shared / "snapshots").glob("*"))
    return [root for root in roots if root.is_dir()]


@pytest.fixture(scope="module")
def real_schemas(shared_pmu) -> dict[str, dict[str, set[str]]]:
    schemas: dict[str, dict[str, set[str]]] = {}
    for endpoint in ENDPOINT_FILES:
        schema: dict[str, set[str]] = {}
        for root in _real_roots(shared_pmu):
            for path in endpoint_files(root, endpoint):
                key_paths(json.loads(path.read_text(encoding="utf-8")), schema)
        schemas[endpoint] = schema
    return schemas


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_conformance") / "days"
    # a week of full-size days: every discipline, meetings abroad, non-runners, cancellations
    synth.generate(date(2026, 2, 2), date(2026, 2, 8), out, seed=3, meetings_per_day=7, burn_in_days=40)
    return out


def test_key_paths_and_types_are_derived_per_position():
    body = {"a": [{"b": 1}, {"b": None, "c": "x"}], "d": 1.5, "e": {"f": [[1, 2]]}}
    assert key_paths(body) == {
        "$": {"dict"},
        "$.a": {"list"},
        "$.a[]": {"dict"},
        "$.a[].b": {"int", "null"},
        "$.a[].c": {"str"},
        "$.d": {"float"},
        "$.e": {"dict"},
        "$.e.f": {"list"},
        "$.e.f[]": {"list"},
        "$.e.f[][]": {"int"},
    }


def test_violations_flag_unknown_keys_and_foreign_types():
    reference = key_paths({"a": 1, "b": [1.5], "c": None, "d": True})
    assert violations(reference, {"a": 2, "b": [2], "c": None}) == []  # ints are fine where floats are
    assert violations(reference, {"a": 2, "z": 1}) == ["unknown path $.z"]
    assert violations(reference, {"a": "2"}) == ["$.a: ['str'] not in real types ['int']"]
    assert violations(reference, {"a": 1.5}) == ["$.a: ['float'] not in real types ['int']"]
    assert violations(reference, {"c": 1}) == ["$.c: ['int'] not in real types ['null']"]
    assert violations(reference, {"d": 1}) == ["$.d: ['int'] not in real types ['bool']"]


@pytest.mark.parametrize("endpoint", list(ENDPOINT_FILES))
def test_every_synthetic_body_conforms_to_the_real_schema(endpoint, real_schemas, synthetic):
    reference = real_schemas[endpoint]
    assert len(reference) > 10, f"no real {endpoint} bodies to compare with"
    checked = 0
    problems: dict[str, str] = {}
    for root in (synthetic, synthetic / "morning"):
        for path in endpoint_files(root, endpoint):
            for problem in violations(reference, json.loads(path.read_text(encoding="utf-8"))):
                problems.setdefault(problem, str(path.relative_to(synthetic)))
            checked += 1
    assert checked > (7 if endpoint == "programme" else 100)
    assert not problems, "\n".join(f"{p} (first in {f})" for p, f in sorted(problems.items())[:30])


def test_synthetic_bodies_cover_most_of_the_real_core_paths(real_schemas, synthetic):
    """Conformance is a subset test; this checks the subset is not trivially small: the paths a
    warehouse reads are all there."""
    synthetic_paths: dict[str, set[str]] = {}
    for endpoint in ENDPOINT_FILES:
        schema: dict[str, set[str]] = {}
        for path in endpoint_files(synthetic, endpoint):
            key_paths(json.loads(path.read_text(encoding="utf-8")), schema)
        synthetic_paths[endpoint] = set(schema)
    core = {
        "programme": [
            "$.programme.reunions[].courses[].ordreArrivee[][]",
            "$.programme.reunions[].pays.code",
            "$.programme.reunions[].courses[].heureDepart",
            "$.programme.reunions[].courses[].penetrometre.valeurMesure",
            "$.programme.reunions[].courses[].incidents[].numeroParticipants[]",
        ],
        "participants": [
            "$.participants[].dernierRapportDirect.rapport",
            "$.participants[].musique",
            "$.participants[].gainsParticipant.gainsCarriere",
            "$.participants[].idCheval",
            "$.participants[].reductionKilometrique",
            "$.participants[].handicapValeur",
            "$.participants[].distanceChevalPrecedent.identifiant",
        ],
        "performances": [
            "$.participants[].coursesCourues[].participants[].place.statusArrivee",
            "$.participants[].coursesCourues[].tempsDuPremier",
        ],
        "rapports": [
            "$[].rapports[].dividendePourUnEuro",
            "$[].rapports[].combinaison",
            "$[].rapports[].libelle",
        ],
    }
    for endpoint, paths in core.items():
        for path in paths:
            assert path in real_schemas[endpoint], path
            assert path in synthetic_paths[endpoint], path
    for endpoint in ENDPOINT_FILES:
        share = len(synthetic_paths[endpoint]) / len(real_schemas[endpoint])
        assert share > 0.5, (endpoint, share)
