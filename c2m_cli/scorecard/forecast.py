"""Scorecard of `c2m forecast` against the synthetic world's planted truth (``truth/world.json``).

Checks:
- planted 双11 and 618 uplifts in the forecast: for the last occurrence of each festival in the
  data, the forecast c2m makes at level total from the history before the festival's window
  (weekly, 8 weeks ahead) puts the festival's strongest week at ≥ 1.8× the median of the other
  weeks (the same engine as `c2m forecast`, only on a shorter history);
- the festival effects c2m estimated (per window day) against the planted window uplifts;
- interval coverage of the backtest (80 % and 90 %) within 5 points of nominal, per level;
- accuracy of `selected` against seasonal naive in backtest (MASE ratio, target ≤ 0.85);
- the pre-sale SKU's forecast carries its pre-sale units (leading signal).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_calendar
from c2m_cli.workspace import Workspace

FESTIVAL_RATIO_TARGET = 1.8
COVERAGE_TOLERANCE = 0.05


def _check(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}


def festival_week_ratio(ws: Workspace, festival: str, timezone: str, end: dt.date) -> tuple[float | None, str]:
    """Forecast from the history before ``festival``'s last window: festival week / median other."""
    from c2m_cli.forecast.engine import compute_forecast

    cal = festival_calendar("cn").filter((pl.col("festival") == festival) & (pl.col("end") <= end))
    if cal.height == 0:
        return None, f"no {festival} inside the data"
    window = cal.sort("start").row(-1, named=True)
    start: dt.date = window["start"]
    monday = start - dt.timedelta(days=start.weekday())
    cutoff = dt.datetime.combine(monday, dt.time()).replace(tzinfo=dt.UTC)
    orders = ws.scan("orders").filter(
        pl.col("ts").dt.convert_time_zone(timezone).dt.replace_time_zone("UTC") < cutoff
    )
    result = compute_forecast(
        orders, None, horizon=8, freq="W", levels=("total",), timezone=timezone, market="cn"
    )
    total = result.forecast.filter(pl.col("model") == "selected").sort("ds")
    ds = total["ds"].to_list()
    y = total["y_hat"].to_numpy()
    touched = np.array([(d <= window["end"]) and (d + dt.timedelta(days=6) >= start) for d in ds])
    if not touched.any() or touched.all():
        return None, f"{festival} window not inside the 8 weeks from {monday}"
    best = int(np.flatnonzero(touched)[np.argmax(y[touched])])
    ratio = float(y[best] / np.median(y[~touched])) if np.median(y[~touched]) > 0 else None
    return ratio, (
        f"forecast from history before {monday} (window {start}–{window['end']}): week of {ds[best]} "
        f"{y[best]:,.0f} units vs median {np.median(y[~touched]):,.0f} of the other weeks"
    )


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_path = ws.root / "truth" / "world.json"
    if not truth_path.is_file():
        return [_check("forecast truth", None, "truth/world.json present", False, "no planted truth in this workspace")]
    if not ws.has("forecast"):
        return [_check("forecast", None, "forecast.parquet present", False, "c2m forecast did not run")]
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    timezone = str(ws.manifest().get("data_timezone") or truth.get("data_timezone") or "UTC")
    end = dt.date.fromisoformat(truth["end_date"])
    out: list[dict[str, Any]] = []

    for festival in ("双11", "618"):
        ratio, detail = festival_week_ratio(ws, festival, timezone, end)
        out.append(_check(
            f"planted {festival} uplift in the forecast (total, festival week / median other weeks)",
            None if ratio is None else round(ratio, 3),
            f"≥ {FESTIVAL_RATIO_TARGET}",
            None if ratio is None else ratio >= FESTIVAL_RATIO_TARGET,
            detail + f"; planted mean daily uplift over the window {truth.get('festival_uplift', {}).get(festival)}",
        ))

    planted = truth.get("festival_uplift_planted", {})
    effects = _effects(ws)
    for festival in ("双11", "618"):
        window = (planted.get(festival) or {}).get("window")
        if window is None or festival not in effects:
            continue
        est = 1.0 + effects[festival]
        rel = abs(est - window) / window
        out.append(_check(
            f"{festival} window-day effect estimated (× a plain day)", round(est, 3),
            f"within 25 % of planted {window}", rel <= 0.25,
            f"c2m fitted {est:.2f}× per window day at level total; planted {window}× (peak day {planted[festival].get('peak')}×)",
        ))

    metrics = ws.read("forecast_metrics")
    agg = metrics.filter(pl.col("unique_id") == "*")
    for level in sorted(agg["level"].unique().to_list()):
        sel = agg.filter((pl.col("level") == level) & (pl.col("model") == "selected"))
        values = dict(zip(sel["metric"].to_list(), sel["value"].to_list(), strict=True))
        for nominal in (80, 90):
            cov = values.get(f"coverage_{nominal}")
            out.append(_check(
                f"backtest coverage of the {nominal} % interval ({level})",
                None if cov is None else round(cov, 3),
                f"{nominal / 100:.2f} ± {COVERAGE_TOLERANCE:.2f}",
                None if cov is None else abs(cov - nominal / 100) <= COVERAGE_TOLERANCE,
                "conformal intervals from the residuals of non-overlapping backtest windows",
            ))
        # like for like: the series that have a seasonal-naive forecast (a season of history)
        pair = (
            metrics.filter((pl.col("level") == level) & (pl.col("unique_id") != "*") & (pl.col("metric") == "MASE")
                           & pl.col("model").is_in(["selected", "seasonal_naive"]))
            .pivot(on="model", index="unique_id", values="value")
        )
        if {"selected", "seasonal_naive"} <= set(pair.columns):
            pair = pair.drop_nulls(["selected", "seasonal_naive"])
            mase = float(pair["selected"].mean() or 0.0)  # type: ignore[arg-type]
            snaive = float(pair["seasonal_naive"].mean() or 0.0)  # type: ignore[arg-type]
            if pair.height and snaive > 0:
                ratio = mase / snaive
                out.append(_check(
                    f"MASE of selected / seasonal naive ({level})", round(ratio, 3), "≤ 0.85", ratio <= 0.85,
                    f"backtest MASE {mase:.3f} vs {snaive:.3f} over the {pair.height} series with a season of history",
                ))

    presale = truth.get("presale") or {}
    sku = presale.get("sku")
    if sku:
        fc = ws.read("forecast").filter((pl.col("level") == "sku") & (pl.col("model") == "selected") & (pl.col("unique_id") == sku))
        units = float(presale.get("presale_units") or presale.get("presale_orders") or 0)
        got = float(fc["y_hat"].sum()) if fc.height else 0.0
        final = presale.get("final_demand")
        out.append(_check(
            f"pre-sale SKU {sku} forecast over the horizon", round(got, 1), f"≥ pre-sale units {units:g}",
            got >= units if fc.height else False,
            f"planted final demand {final} within {presale.get('horizon_days')} days of launch {presale.get('launch_date')}"
            + ("" if fc.height else "; the SKU is not in the forecast (is sku among --levels?)"),
        ))
    # wall time is not scored here: the scorecard must replay byte for byte under `c2m verify`;
    # the demo's JSON summary carries each step's seconds
    return out


def _effects(ws: Workspace) -> dict[str, float]:
    """The festival effects fitted at level total by the last `c2m forecast` (forecast_model.json)."""
    path = ws.root / "forecast_model.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in (data.get("festival_effects") or {}).items()}
