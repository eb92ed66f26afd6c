"""Where the reference tables of ``seeds/`` are: inside the wheel, or beside a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

from c2m_cli.errors import C2MError

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def seeds_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "seeds", _PACKAGE_DIR.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    raise C2MError("the seeds/ reference tables are missing from this installation of c2m")


def seed_path(name: str) -> Path:
    path = seeds_dir() / name
    if not path.is_file():
        raise C2MError(f"seed table {name} is missing from {seeds_dir()}")
    return path


def read_seed(name: str) -> pl.DataFrame:
    """A CSV seed table, every column read as text unless it parses cleanly."""
    return pl.read_csv(seed_path(name), encoding="utf8", infer_schema_length=10000)
