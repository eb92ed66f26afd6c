"""`c2m recommend`: what to build, for whom, at which price, how many, and for whom to market it.

Reads the canonical tables and whatever later steps left (labels, segments, forecast); each
analysis whose input is missing is skipped and the summary says why.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.recommend import audiences as aud
from c2m_cli.recommend import opportunities as opp
from c2m_cli.recommend._text import is_chinese
from c2m_cli.recommend.briefs import build_briefs
from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.data import Inputs, prepare_lines
from c2m_cli.recommend.quantities import QUANTITY_SCHEMA, Economics, brief_quantity, plan_quantities
from c2m_cli.recommend.reviews import micro_demand_opportunities, micro_demands
from c2m_cli.workspace import Workspace

REQUIRED_ORDER_COLUMNS = ("order_id", "user_id", "sku", "ts", "qty", "unit_price")


def _check_options(service_level: float, min_support: float, top: int, cancel_rate: float,
                   deposit_conversion: float, moq: float, super_user_share: float) -> None:
    if not 0 < service_level < 1:
        raise UsageError(f"--service-level must be between 0 and 1 (exclusive), got {service_level}")
    if not 0 < min_support < 1:
        raise UsageError(f"--min-support must be between 0 and 1 (exclusive), got {min_support}")
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    if not 0 <= cancel_rate < 1:
        raise UsageError(f"--cancel-rate must be in [0, 1), got {cancel_rate}")
    if deposit_conversion <= 0:
        raise UsageError(f"--deposit-conversion must be positive, got {deposit_conversion}")
    if moq < 0:
        raise UsageError(f"--moq must not be negative, got {moq}")
    if not 0 < super_user_share < 1:
        raise UsageError(f"super_user_share must be between 0 and 1, got {super_user_share}")


def _segment_by_category(ins: Inputs) -> pl.DataFrame:
    """(category, segment_id): the segment most over-represented among a category's buyers."""
    level = ins.main_level()
    if ins.segments is None or level is None:
        return pl.DataFrame(schema={"category": pl.String, "segment_id": pl.String})
    seg = ins.segments.select(pl.col("user_id").cast(pl.String), pl.col("segment_id").cast(pl.String))
    buyers = ins.lines.select("user_id", pl.col(level).alias("category")).drop_nulls().unique().join(seg, on="user_id")
    overall = seg.group_by("segment_id").agg(pl.len().alias("n_seg")).with_columns(p_all=pl.col("n_seg") / pl.col("n_seg").sum())
    return (
        buyers.group_by("category", "segment_id").agg(pl.len().alias("k"))
        .with_columns(p=pl.col("k") / pl.col("k").sum().over("category"))
        .join(overall, on="segment_id")
        .with_columns(lift=pl.col("p") / pl.col("p_all"))
        .sort(["category", "lift", "segment_id"], descending=[False, True, False])
        .unique("category", keep="first", maintain_order=True)
        .select("category", "segment_id")
    )


def run_recommend(
    ws: Workspace,
    *,
    service_level: float = 0.9,
    unit_cost: float | None = None,
    unit_price: float | None = None,
    salvage: float = 0.0,
    moq: float = 0.0,
    deposit_conversion: float = 0.9,
    cancel_rate: float = 0.05,
    horizon_days: int = 56,
    min_support: float = 0.001,
    hash_ids: bool = False,
    salt: str = "",
    top: int = 5,
    super_user_share: float = 0.03,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    _check_options(service_level, min_support, top, cancel_rate, deposit_conversion, moq, super_user_share)
    if unit_cost is not None and unit_price is not None and unit_price <= unit_cost:
        raise UsageError(f"--unit-price ({unit_price}) must exceed --unit-cost ({unit_cost})")
    parameters = {
        "service_level": service_level, "unit_cost": unit_cost, "unit_price": unit_price, "salvage": salvage,
        "moq": moq, "deposit_conversion": deposit_conversion, "cancel_rate": cancel_rate,
        "horizon_days": horizon_days, "min_support": min_support, "hash_ids": hash_ids,
        "salt": "***" if salt else "", "top": top, "super_user_share": super_user_share, "executor": executor,
    }
    eco = Economics(service_level, unit_cost, unit_price, salvage, moq, deposit_conversion, cancel_rate, horizon_days)
    with ws.step("recommend", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        orders = step.read("orders")
        missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in orders.columns]
        if missing:
            raise InvalidDataError(f"orders.parquet in {ws.root} lacks column(s): {', '.join(missing)}")
        if orders.height == 0:
            raise InvalidDataError(f"orders.parquet in {ws.root} has no rows")
        names = ("products", "customers", "events", "reviews", "labels", "tags", "segments", "segment_profiles", "forecast")
        tables = {n: step.read_optional(n) for n in names}
        tz = str(ws.manifest().get("data_timezone") or "UTC")
        lines = prepare_lines(orders, tables["products"], tz)
        texts = []
        for n in ("products",):
            table = tables[n]
            if table is not None:
                texts += [str(v) for c in ("name", "category_l1", "category_l2") if c in table.columns for v in table[c].head(200).to_list()]
        reviews_table = tables["reviews"]
        if reviews_table is not None:
            texts += reviews_table["text"].drop_nulls().head(200).to_list()
        ins = Inputs(orders=orders, timezone=tz, chinese=is_chinese(texts), lines=lines,
                     start=lines["date"].min(), end=lines["date"].max(), **tables)  # type: ignore[arg-type]
        skipped: dict[str, str] = {}
        notes: dict[str, Any] = {}
        frames = []
        search_table = pl.DataFrame()
        if ins.events is None:
            skipped["search_gap"] = "no events.parquet"
            skipped["attribute_gap"] = "no events.parquet (no searches)"
        elif "query" not in ins.events.columns or "event" not in ins.events.columns:
            skipped["search_gap"] = "events.parquet has no query column"
        else:
            gap, search_table = opp.search_gap(ins)
            frames.append(gap)
            if ins.products is None:
                skipped["attribute_gap"] = "no products.parquet"
            else:
                frames.append(opp.attribute_gap(ins, search_table))
        if ins.products is None or not ins.category_levels():
            skipped["categories"] = "no products.parquet with categories: rising_demand, price_band, festival by category skipped"
            band_table, portrait, uplift = pl.DataFrame(), pl.DataFrame(), pl.DataFrame()
        else:
            frames.append(opp.rising_demand(ins))
            bands, band_table, portrait = opp.price_bands(ins)
            frames.append(bands)
            uplift = opp.festival_uplift(ins)
            frames.append(opp.festival_opportunities(ins, uplift))
            if ins.customers is None and ins.tags is None:
                skipped["price_band_portrait"] = "no customers.parquet or tags.parquet: price bands without a buyer portrait"
        micro = pl.DataFrame()
        if ins.reviews is None:
            skipped["micro_demand"] = "no reviews.parquet"
        else:
            micro, notes["reviews"] = micro_demands(ins.reviews, products=ins.products, chinese=ins.chinese)
            frames.append(micro_demand_opportunities(micro, chinese=ins.chinese))
        frames = [f for f in frames if f.height]
        table = pl.concat(frames) if frames else opp.empty_opportunities()
        seg_cat = _segment_by_category(ins)
        if seg_cat.height:
            table = table.join(seg_cat.rename({"segment_id": "_seg"}), on="category", how="left").with_columns(
                segment_id=pl.coalesce("segment_id", "_seg")
            ).drop("_seg")
        elif ins.segments is None:
            skipped["segment_id"] = "no segments.parquet: opportunities carry no segment"
        key = pl.concat_str([pl.col(c).fill_null("") for c in ("kind", "category", "sku", "subject")], separator="|")
        table = (
            table.with_columns(pl.col("score").round(6), _key=key)
            .sort(["score", "kind", "_key"], descending=[True, False, False])
            .with_row_index("rank", offset=1)
            .with_columns(
                opportunity_id=pl.col("_key").map_elements(lambda k: "O" + hashlib.sha1(k.encode()).hexdigest()[:10], return_dtype=pl.String),
                rank=pl.col("rank").cast(pl.Int32),
            )
            .select("opportunity_id", "rank", "kind", "category", "sku", "subject", "evidence", "score", "segment_id",
                    "volume", "trend_z", "trend_p")
        )
        attribute_words = (
            table.filter(pl.col("kind") == "attribute_gap")
            .select("category", pl.col("subject").str.extract(r"[「'](.+)[」']").alias("word"))
        )
        briefs, docs = build_briefs(ins, table, top=top, band_table=band_table, portrait=portrait, micro=micro,
                                    uplift=uplift, attribute_words=attribute_words)
        if ins.forecast is None:
            skipped["forecast"] = "no forecast.parquet: expected demand from the last 8 weeks of history"
        quantities, notes["quantities"] = plan_quantities(orders, ins.events, ins.products, ins.forecast, tz=tz, end=ins.end, eco=eco)
        brief_rows = [brief_quantity(b["brief_id"], b["demand_p10"], b["demand_p50"], b["demand_p90"], b["demand_method"], eco)
                      for b in briefs.iter_rows(named=True)]
        if brief_rows:
            quantities = pl.concat([quantities, pl.DataFrame(brief_rows, schema=QUANTITY_SCHEMA)])
        # audiences
        users = aud.lifecycle_from_orders(lines, ins.end)
        if ins.labels is None:
            skipped["labels"] = "no labels.parquet: lifecycle derived from orders"
        parts = [
            aud.reactivation(users, ins.labels, chinese=ins.chinese),
            aud.super_users(lines, ins.reviews, ins.products, share=super_user_share, chinese=ins.chinese),
        ]
        if ins.segments is not None:
            pairs = [(b["brief_id"], b["segment_id"]) for b in briefs.iter_rows(named=True) if b["segment_id"]]
            parts.append(aud.early_adopters(lines, ins.segments, pairs, ins.products, per_brief=200, chinese=ins.chinese))
        else:
            skipped["early_adopters"] = "no segments.parquet"
        audiences = pl.concat([p.cast(aud.AUDIENCE_SCHEMA) for p in parts]).sort(  # type: ignore[arg-type]
            ["audience", "score", "user_id"], descending=[False, True, False]
        )
        bundles, notes["bundles"] = mine_bundles(baskets_of(lines), min_support=min_support)
        step.write_table("opportunities", table)
        step.write_table("briefs", briefs)
        step.write_table("quantities", quantities)
        step.write_table("audiences", audiences)
        step.write_table("bundles", bundles)
        step.write_text("audiences.csv", aud.to_csv(audiences, hash_ids=hash_ids, salt=salt))
        for relpath, text in sorted(docs.items()):
            step.write_text(relpath, text)
        old = ws.root / "briefs"
        if old.is_dir():
            for path in sorted(old.glob("*.md")):
                if f"briefs/{path.name}" not in docs:
                    step.remove_output(f"briefs/{path.name}")
        summary = {
            "workspace": str(ws.root),
            "opportunities": table.height,
            "opportunities_by_kind": dict(sorted(table.group_by("kind").len().iter_rows())),
            "top_opportunities": table.head(top).select("rank", "kind", "category", "subject", "score").to_dicts(),
            "briefs": briefs.height,
            "quantities": quantities.select("sku", "brief_id", "presale_orders", "forecast_p50", "recommended_qty").to_dicts(),
            "audiences": dict(sorted(audiences.group_by("audience").len().iter_rows())),
            "bundles": bundles.height,
            "skipped": dict(sorted(skipped.items())),
            "notes": notes,
        }
        step.summary = summary
    return summary
