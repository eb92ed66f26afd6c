"""Demand forecasts per level, with the market's calendar, seasonality, intermittent demand and backtests.

Writes ``forecast.parquet`` (every candidate model plus ``selected``, with quantiles),
``backtest.parquet`` and ``forecast_metrics.parquet`` (DESIGN.md pins their columns), and
``forecast_model.json`` (cutoffs, festival effects, models selected, backtest accuracy).
"""

from __future__ import annotations

import shutil
from typing import Any

from c2m_cli.errors import UsageError
from c2m_cli.workspace import Workspace


def run_forecast(
    ws: Workspace,
    *,
    horizon: int = 8,
    freq: str = "W",
    levels: str = "total,category_l1,sku",
    net_returns: bool = False,
    reconcile: str = "bottom_up",
    intervals: str = "coherent",
    global_model: bool = False,
    backtest_detail: str = "auto",
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Forecast ``horizon`` periods of ``freq`` for each level; returns a JSON-able summary."""
    from c2m_cli.forecast.engine import (
        BACKTEST_DETAIL,
        INTERVALS,
        MAX_HORIZON,
        RECONCILE,
        compute_forecast,
    )
    from c2m_cli.forecast.series import check_freq, parse_levels
    from c2m_cli.market import workspace_market

    if horizon < 1:
        raise UsageError(f"--horizon must be at least 1, got {horizon}")
    check_freq(freq)
    if horizon > MAX_HORIZON[freq]:
        raise UsageError(f"--horizon {horizon} is beyond three years of {freq} periods (at most {MAX_HORIZON[freq]})")
    level_tuple = parse_levels(levels)
    if reconcile not in RECONCILE:
        raise UsageError(f"--reconcile must be one of {', '.join(RECONCILE)}, got {reconcile!r}")
    if intervals not in INTERVALS:
        raise UsageError(f"--intervals must be one of {', '.join(INTERVALS)}, got {intervals!r}")
    if backtest_detail not in BACKTEST_DETAIL:
        raise UsageError(f"--backtest-detail must be one of {', '.join(BACKTEST_DETAIL)}, got {backtest_detail!r}")
    parameters = {
        "horizon": horizon,
        "freq": freq,
        "levels": ",".join(level_tuple),
        "net_returns": net_returns,
        "reconcile": reconcile,
        "intervals": intervals,
        "global_model": global_model,
        "backtest_detail": backtest_detail,
        "executor": executor,
    }
    from c2m_cli.executor import usage_mark, usage_since

    mark = usage_mark()
    with ws.step("forecast", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        orders = step.scan("orders")
        products = step.read_optional("products")
        manifest = ws.manifest()
        timezone = str(manifest.get("data_timezone") or "UTC")
        market = workspace_market(manifest)
        # series partitions (what the executor's tasks read) and the tables' parts go to a
        # scratch directory inside the step's staging area (on the workspace's storage, which
        # Dask workers share; removed with the staging area, also after a killed run)
        scratch = step.staging / ".forecast-parts"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            result = compute_forecast(
                orders,
                products,
                horizon=horizon,
                freq=freq,
                levels=level_tuple,
                timezone=timezone,
                market=market,
                net_returns=net_returns,
                reconcile=reconcile,
                intervals=intervals,
                global_model=global_model,
                backtest_detail=backtest_detail,
                seed=seed,
                executor=executor,
                scratch=scratch,
                # the two long tables are written row group by row group into the outputs
                targets={t: step.staged(f"{t}.parquet") for t in ("forecast", "backtest")},
            )
            step.warnings.extend(result.warnings)
            step.write_table("forecast_metrics", result.metrics)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        summary = {**result.summary, "rows": dict(result.rows), "timezone": timezone}
        # what was fitted, for people and later steps (no pickle: plain JSON)
        step.write_json("forecast_model.json", {k: v for k, v in summary.items() if k != "rows"})
        summary["executor"] = usage_since(mark)  # what ran where: in the summary, not in the model file
        step.summary = summary
        return summary
