"""Scorecard of `c2m recommend` against the synthetic world's planted truth (truth/)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from c2m_cli.workspace import Workspace


def _check(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}


_BAND = r"(\d+(?:\.\d+)?)–(\d+(?:\.\d+)?|∞)"


def _price_band_check(opp: pl.DataFrame, band: dict[str, Any]) -> dict[str, Any]:
    """The planted band's buyers' portrait: a price_band opportunity of the planted category
    overlapping the planted price range whose over-indexed groups name the planted generation
    and city tier."""
    check, target = "planted price-band portrait", "band overlapping the planted range portrays its generation and tier"
    if not band:
        return _check(check, None, target, None, "no price band planted")
    rows = opp.filter((pl.col("kind") == "price_band") & (pl.col("category") == band.get("category")))
    bounds = rows["subject"].str.extract_groups(_BAND)
    rows = rows.with_columns(
        low=bounds.struct.field("1").cast(pl.Float64),
        high=pl.when(bounds.struct.field("2") == "∞").then(float("inf")).otherwise(bounds.struct.field("2").cast(pl.Float64, strict=False)),
    ).filter((pl.col("low") < band["high"]) & (pl.col("high") > band["low"]))
    wanted = [str(band.get("generation")), str(band.get("city_tier"))]
    portrayed = rows.filter(pl.all_horizontal(pl.col("evidence").str.contains(w, literal=True) for w in wanted))
    found = portrayed.sort("rank").head(1)
    value = str(found["subject"][0]) if found.height else None
    detail = (
        f"{band.get('category')} {band.get('low'):g}–{band.get('high'):g} planted for {' '.join(wanted)}; "
        + (str(found["evidence"][0]) if found.height else f"{rows.height} overlapping band(s), none portraying {' and '.join(wanted)}")
    )
    return _check(check, value, target, found.height > 0, detail)


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_dir = ws.root / "truth"
    world = json.loads((truth_dir / "world.json").read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    have = {n: ws.has(n) for n in ("opportunities", "quantities", "bundles", "audiences")}
    if not all(have.values()):
        missing = ", ".join(n for n, ok in have.items() if not ok)
        return [_check("recommend outputs", None, "present", False, f"missing: {missing}")]
    opp = ws.read("opportunities")
    niche = world.get("niche", {})
    hits = opp.filter((pl.col("kind") == "search_gap") & pl.col("subject").str.contains(str(niche.get("query")), literal=True))
    rank = int(hits["rank"].min()) if hits.height else None  # type: ignore[arg-type]
    out.append(_check("planted niche among top 5 opportunities", rank, "rank ≤ 5", rank is not None and rank <= 5,
                      f"search_gap for '{niche.get('query')}' in {niche.get('category')} at rank {rank}"))
    micro = world.get("micro_demand", {})
    phrases = micro.get("phrases", [])
    md = opp.filter((pl.col("kind") == "micro_demand") & (pl.col("sku") == micro.get("sku")))
    aspects = md["subject"].str.extract(r"的「(.+)」$").drop_nulls().to_list() + md["subject"].str.extract(r"fix '(.+)' of").drop_nulls().to_list()
    matching = [a for a in aspects if sum(a in p for p in phrases) >= 2]
    out.append(_check("planted micro-demand for its product", matching[0] if matching else None,
                      "an aspect of the planted phrases mined for the product", bool(matching),
                      f"{len(aspects)} micro-demands for {micro.get('sku')}; matching the planted '{micro.get('aspect')}': {', '.join(matching) or 'none'}"))
    out.append(_price_band_check(opp, world.get("price_band", {})))
    presale = world.get("presale", {})
    q = ws.read("quantities").filter(pl.col("sku") == presale.get("sku"))
    final = float(presale.get("final_demand") or 0)
    if q.height and final > 0:
        p50 = float(q["forecast_p50"][0])
        err = abs(p50 - final) / final
        out.append(_check("pre-sale quantity vs planted final demand", round(err, 4), "relative error ≤ 0.20", err <= 0.2,
                          f"{presale.get('sku')}: expected demand {p50:.0f}, recommended production {q['recommended_qty'][0]:.0f} "
                          f"at service level {q['service_level'][0]:.2f}, planted final demand {final:.0f}"))
    else:
        out.append(_check("pre-sale quantity vs planted final demand", None, "relative error ≤ 0.20", False,
                          f"no quantity for the pre-sale product {presale.get('sku')}"))
    bundle = world.get("bundle", {})
    pair = {bundle.get("sku_a"), bundle.get("sku_b")}
    b = ws.read("bundles").filter(
        (pl.col("antecedent").list.len() == 1) & (pl.col("consequent").list.len() == 1)
    ).with_columns(pair=pl.concat_list("antecedent", "consequent"))
    b = b.filter(pl.col("pair").list.contains(bundle.get("sku_a")) & pl.col("pair").list.contains(bundle.get("sku_b")))
    lift = float(b["lift"].max()) if b.height else None  # type: ignore[arg-type]
    out.append(_check("planted bundle lift", round(lift, 3) if lift else None, "lift > 2", lift is not None and lift > 2,
                      f"{' + '.join(sorted(str(p) for p in pair))}: planted lift {bundle.get('lift')}"))
    users = pl.read_parquet(truth_dir / "users.parquet")
    aud = ws.read("audiences")
    for name, cond, target in (
        ("reactivation", pl.col("lifecycle_stage").is_in(["sleeping", "dormant"]), 0.8),
        ("super_users", pl.col("is_super_user"), 0.6),
    ):
        planted = users.filter(cond)
        if "lifecycle_clear" in users.columns and name == "reactivation":
            planted = planted.filter(pl.col("lifecycle_clear"))
        got = aud.filter(pl.col("audience") == name).select("user_id")
        recall = planted.join(got, on="user_id").height / planted.height if planted.height else None
        out.append(_check(f"{name} audience recall of planted users", round(recall, 4) if recall is not None else None,
                          f"≥ {target:.0%}", recall is not None and recall >= target,
                          f"{got.height} users in the audience, {planted.height} planted"))
    return out
