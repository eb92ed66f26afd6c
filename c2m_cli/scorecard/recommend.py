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
    check, target = "planted price-band portrait in the top 5 bands", "a top-5 band overlapping the planted range portrays its generation and tier"
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


def _need_checks(opp: pl.DataFrame, briefs: pl.DataFrame, niche: dict[str, Any]) -> list[dict[str, Any]]:
    query = str(niche.get("query"))
    mentions = opp.filter(pl.col("subject").str.contains(query, literal=True)
                          | pl.col("variants").list.eval(pl.element().str.contains(query, literal=True)).list.any())
    gaps = mentions.filter(pl.col("kind").is_in(["search_gap", "attribute_gap"]))
    rank = int(gaps["rank"].min()) if gaps.height else None  # type: ignore[arg-type]
    out = [_check("planted need is the top opportunity", rank, "rank 1", rank == 1,
                  f"search_gap for '{query}' in {niche.get('category')} at rank {rank}"),
           _check("planted need is one opportunity", gaps.height, "1 gap row", gaps.height == 1,
                  f"gap rows naming '{query}': {', '.join(gaps['subject'].to_list()) or 'none'}")]
    ids = set(gaps["opportunity_id"].to_list())
    n_briefs = briefs.filter(pl.col("opportunity_id").is_in(list(ids))).height if ids else 0
    out.append(_check("planted need has one brief", n_briefs, "1 brief", n_briefs == 1, f"{n_briefs} brief(s) for '{query}'"))
    return out


def _brief_attribute_check(ws: Workspace, briefs: pl.DataFrame) -> dict[str, Any]:
    """Every brief attribute is a whole word (≥ 2 characters) found in its own category's
    searches or products."""
    products = ws.read("products") if ws.has("products") else pl.DataFrame({"sku": [], "category_l2": []})
    events = ws.read("events") if ws.has("events") else pl.DataFrame({"query": [], "category": []})
    bad = []
    for r in briefs.iter_rows(named=True):
        cat = r["category"]
        own = " ".join(
            events.filter(pl.col("category") == cat)["query"].drop_nulls().unique().to_list()
            + [str(v) for c in ("name", "attrs") if c in products.columns
               for v in products.filter(pl.col("category_l2") == cat)[c].drop_nulls().to_list()]).lower()
        for a in r["attributes"] or []:
            words = str(a).lower().split(" ")
            if len(str(a)) < 2 or not all(w in own for w in words):
                bad.append(f"{r['brief_id']}:{a}")
    n = sum(len(r or []) for r in briefs["attributes"].to_list())
    return _check("brief attributes are whole words of their category", len(bad), "0 bad", not bad and n > 0,
                  f"{n} attributes in {briefs.height} briefs; bad: {', '.join(bad) or 'none'}")


def _quantity_check(q: pl.DataFrame) -> dict[str, Any]:
    ok = q.filter((pl.col("service_level") - 0.9).abs() < 1e-9)
    order = (pl.col("forecast_p10") <= pl.col("forecast_p50")) & (pl.col("forecast_p50") <= pl.col("newsvendor_qty")) & (
        pl.col("newsvendor_qty") <= pl.col("forecast_p90"))
    bad = ok.filter(~order)
    return _check("quantities P10 ≤ P50 ≤ qty ≤ P90 at service 0.9", bad.height, "0 rows out of order",
                  ok.height > 0 and bad.height == 0, f"{ok.height} rows at service 0.9, {bad.height} out of order")


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_dir = ws.root / "truth"
    world = json.loads((truth_dir / "world.json").read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    have = {n: ws.has(n) for n in ("opportunities", "briefs", "quantities", "bundles", "audiences")}
    if not all(have.values()):
        missing = ", ".join(n for n, ok in have.items() if not ok)
        return [_check("recommend outputs", None, "present", False, f"missing: {missing}")]
    opp = ws.read("opportunities")
    briefs = ws.read("briefs")
    out += _need_checks(opp, briefs, world.get("niche", {}))
    micro = world.get("micro_demand", {})
    phrases = micro.get("phrases", [])
    md = opp.filter(pl.col("kind") == "micro_demand").sort("rank").head(3)
    products = ws.read("products") if ws.has("products") else pl.DataFrame({"sku": [], "name": []})
    product_names = products.filter(pl.col("sku") == micro.get("sku"))["name"].to_list() if "name" in products.columns else []
    md = md.filter(pl.col("sku") == micro.get("sku"))
    aspects = md["subject"].str.extract(r"的「(.+)」$").drop_nulls().to_list() + md["subject"].str.extract(r"fix '(.+)' of").drop_nulls().to_list()
    matching = [a for a in aspects if sum(a in p for p in phrases) >= 2]
    named = bool(product_names) and md.filter(pl.col("subject").str.contains(str(product_names[0]), literal=True)).height > 0
    out.append(_check("planted micro-demand among the top 3, naming the product", matching[0] if matching else None,
                      "an aspect of the planted phrases, subject names the product", bool(matching) and named,
                      f"top-3 micro-demands for {micro.get('sku')} ({product_names[0] if product_names else '?'}): {', '.join(md['subject'].to_list()) or 'none'}"))
    bands = opp.filter(pl.col("kind") == "price_band").sort("rank").head(5)
    out.append(_price_band_check(bands, world.get("price_band", {})))
    out.append(_brief_attribute_check(ws, briefs))
    q_all = ws.read("quantities")
    out.append(_quantity_check(q_all))
    presale = world.get("presale", {})
    q = q_all.filter(pl.col("sku") == presale.get("sku"))
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
