"""Key paths and value types of JSON bodies: derive them from real bodies, check synthetic ones.

A path is written `$.programme.reunions[].courses[].distance`; list items share the path `[]`.
Types are JSON types: null, bool, int, float, str, list, dict."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

ENDPOINT_FILES = {  # endpoint -> glob of its files under a replay-layout root
    "programme": "*.json",
    "participants": "*/R*/C*/participants.json",
    "performances": "*/R*/C*/performances-detaillees/pretty.json",
    "rapports": "*/R*/C*/rapports-definitifs.json",
}


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def key_paths(body, schema: dict[str, set[str]] | None = None, path: str = "$") -> dict[str, set[str]]:
    """Every key path of `body` with the set of JSON types seen there (merged into `schema`)."""
    schema = {} if schema is None else schema
    stack = [(path, body)]
    while stack:
        where, value = stack.pop()
        kind = json_type(value)
        schema.setdefault(where, set()).add(kind)
        if kind == "dict":
            stack.extend((f"{where}.{key}", item) for key, item in value.items())
        elif kind == "list":
            stack.extend((f"{where}[]", item) for item in value)
    return schema


def schema_of_files(files: Iterable[Path]) -> dict[str, set[str]]:
    schema: dict[str, set[str]] = {}
    for file in files:
        key_paths(json.loads(Path(file).read_text(encoding="utf-8")), schema)
    return schema


def endpoint_files(root: Path, endpoint: str) -> list[Path]:
    """Files of one endpoint under a replay-layout root (programme: day files only)."""
    files = sorted(Path(root).glob(ENDPOINT_FILES[endpoint]))
    if endpoint == "programme":
        files = [f for f in files if f.stem.isdigit() and len(f.stem) == 8]
    return files


def violations(reference: dict[str, set[str]], body) -> list[str]:
    """Paths or types of `body` that the reference schema never showed. A float where the
    reference has only ints is a violation; an int where it has floats is not (JSON writes 3.0
    as 3 in many encoders, and the real bodies mix them)."""
    problems = []
    for path, kinds in sorted(key_paths(body).items()):
        allowed = reference.get(path)
        if allowed is None:
            problems.append(f"unknown path {path}")
            continue
        extra = kinds - allowed
        if "int" in extra and "float" in allowed:
            extra.discard("int")
        if extra:
            problems.append(f"{path}: {sorted(extra)} not in real types {sorted(allowed)}")
    return problems
