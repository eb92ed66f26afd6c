"""A synthetic Chinese e-commerce world with planted truth, for `c2m demo` and the tests.

``generate_world(ws, users=3000, seed=0)`` writes the five canonical tables (orders,
customers, products, events, reviews) into the workspace, and ``truth/users.parquet`` and
``truth/world.json`` describing what was planted: consumer types, lifecycle stages, festival
uplifts, a rising niche query no product serves, a micro-demand in one product's reviews, a
price band owned by one demographic, pre-sale orders, a co-purchase pair and super users.
Generation is vectorised numpy in fixed chunks of users, so it is deterministic by seed
whatever the size, and memory stays bounded for 200,000 users.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import UsageError
from c2m_cli.synth.catalog import build_catalog
from c2m_cli.synth.generate import build_calendar, generate_chunk, new_stats
from c2m_cli.synth.truth import world_truth
from c2m_cli.synth.world import CHUNK_USERS, DATA_TIMEZONE, DEFAULT_END, STAGES
from c2m_cli.workspace import Workspace

__all__ = ["generate_world", "DEFAULT_END", "DATA_TIMEZONE"]

TABLES = ("customers", "orders", "events", "reviews")


def _date(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--{name} must be a date YYYY-MM-DD, got {value!r}") from exc


def generate_world(
    ws: Workspace,
    *,
    users: int = 20000,
    seed: int = 0,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Generate the world into ``ws``; return a summary (row counts and headline truth)."""
    if users < 100:
        raise UsageError(f"--users must be at least 100, got {users}")
    end_d = _date(end, "end") or DEFAULT_END
    start_d = _date(start, "start") or (end_d.replace(year=end_d.year - 2) + dt.timedelta(days=1))
    if (end_d - start_d).days < 400:
        raise UsageError(f"the world needs at least 400 days, got {start_d} to {end_d}")
    parameters = {"users": users, "start": start_d.isoformat(), "end": end_d.isoformat()}
    cal = build_calendar(start_d, end_d)
    root = np.random.SeedSequence([seed, 20251130])
    catalog_seq, *chunk_seqs = root.spawn(1 + (users + CHUNK_USERS - 1) // CHUNK_USERS)
    catalog = build_catalog(np.random.default_rng(catalog_seq), start_d, cal.days)
    stats = new_stats(cal.days)
    user_width = max(6, len(str(users)))
    with ws.step("synth", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        parts = Path(step.staging) / "_parts"
        parts.mkdir()
        rows = dict.fromkeys(TABLES, 0)
        stage_counts = dict.fromkeys(STAGES, 0)
        super_users = 0
        user_frames = []
        orders_seen = reviews_seen = 0
        for index, seq in enumerate(chunk_seqs):
            offset = index * CHUNK_USERS
            n = min(CHUNK_USERS, users - offset)
            chunk = generate_chunk(
                np.random.default_rng(seq), n, offset, orders_seen, reviews_seen, cal, catalog, stats,
                user_width,
            )
            orders_seen += chunk.orders["order_id"].n_unique()
            reviews_seen += chunk.reviews.height
            for name in TABLES:
                frame = getattr(chunk, name)
                frame.write_parquet(parts / f"{name}-{index:04d}.parquet", compression="zstd")
                rows[name] += frame.height
            user_frames.append(chunk.users)
            counts = chunk.users["lifecycle_stage"].value_counts()
            for stage, count in counts.iter_rows():
                stage_counts[stage] += int(count)
            super_users += int(chunk.users["is_super_user"].sum())
            del chunk
        for name in TABLES:
            step.sink_table(name, pl.scan_parquet(sorted(parts.glob(f"{name}-*.parquet"))))
        step.write_table("products", catalog.products)
        truth_users = pl.concat(user_frames)
        step.write_table("truth/users", truth_users)
        world = world_truth(
            users=users, seed=seed, cal=cal, cat=catalog, stats=stats, stage_counts=stage_counts,
            super_users=super_users,
        )
        step.write_json("truth/world.json", world)
        rows["products"] = catalog.products.height
        summary = {
            "users": users,
            "start": start_d.isoformat(),
            "end": end_d.isoformat(),
            "rows": rows,
            "orders": orders_seen,
            "festival_uplift": world["festival_uplift"],
            "niche": world["niche"]["query"],
            "micro_demand_sku": world["micro_demand"]["sku"],
            "presale_orders": world["presale"]["presale_orders"],
            "bundle_lift": world["bundle"]["lift"],
            "super_users": super_users,
        }
        step.summary = summary
        step.set_manifest_field("data_timezone", DATA_TIMEZONE)  # lands with the entry
        step.set_manifest_field("market", "cn")
    return summary
