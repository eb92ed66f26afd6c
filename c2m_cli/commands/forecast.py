"""`c2m forecast`: demand per level with festivals, backtests and intervals."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.commands._common import (
    ExecutorOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    StrictOpt,
    VerboseOpt,
    WorkspaceArg,
    call_step,
    run_command,
)

NAME = "forecast"
HELP = (
    "Forecast demand per level (total, category, SKU, region, channel) with the workspace market's "
    "festivals and holidays, yearly seasonality (weekly or monthly data), intermittent-demand models, "
    "rolling-origin backtests, conformal P5–P95 and coherent levels."
)
EPILOG = "Example: c2m forecast ./ws --horizon 8 --freq W --levels total,category_l1,sku"


def command(
    workspace: WorkspaceArg,
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon",
            help="Periods of --freq to forecast (at most 2× the history, and three years).",
            show_default=True,
        ),
    ] = 8,
    freq: Annotated[
        str,
        typer.Option("--freq", help="Period: D (day), W (week, from Monday) or M (month)."),
    ] = "W",
    levels: Annotated[
        str,
        typer.Option(
            "--levels",
            help=(
                "Comma-separated levels: total, category_l1, category_l2, category_l3, sku (the product tree); "
                "province, city_tier (province × city tier, e.g. 广东/一线), city (the geo tree, reconciled under "
                "the same total); channel."
            ),
        ),
    ] = "total,category_l1,sku",
    net_returns: Annotated[
        bool,
        typer.Option(
            "--net-returns/--no-net-returns",
            help="Net returned lines and refunds out of demand (default: demand as ordered).",
        ),
    ] = False,
    reconcile: Annotated[
        str,
        typer.Option("--reconcile", help="How levels are made to add up: bottom_up or mint_shrink."),
    ] = "bottom_up",
    intervals: Annotated[
        str,
        typer.Option(
            "--intervals",
            help=(
                "How the quantiles are built: coherent (joint sample paths of the bottom series - a bootstrap of their "
                "backtest errors by window through each series' calibrated quantiles - summed to every level of the "
                "product tree, or of the geo tree when no product level is asked, each level's between-window spread "
                "calibrated on earlier windows; the quantiles add up as distributions, see docs/forecast.md) or "
                "per_level (conformal, from each level's own backtest errors; they do not add up)."
            ),
        ),
    ] = "coherent",
    global_model: Annotated[
        bool,
        typer.Option(
            "--global-model/--no-global-model",
            help=(
                "Add a global gradient-boosting model (Poisson loss, lag/rolling/calendar/festival "
                "features) as a candidate; it is selected where it wins in backtest. Costs a few seconds."
            ),
        ),
    ] = False,
    backtest_detail: Annotated[
        str,
        typer.Option(
            "--backtest-detail",
            help=(
                "Whose per-series rows backtest.parquet and forecast_metrics.parquet hold: all (every candidate "
                "model's), selected (only selected's; every candidate keeps its level aggregate, unique_id *, in "
                "forecast_metrics) or auto (all at a level of at most 2,000 series, selected above)."
            ),
        ),
    ] = "auto",
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.forecast:run_forecast",
            workspace,
            horizon=horizon,
            freq=freq,
            levels=levels,
            net_returns=net_returns,
            reconcile=reconcile,
            intervals=intervals,
            global_model=global_model,
            backtest_detail=backtest_detail,
            seed=seed,
            executor=executor,
        )

    def render(summary: dict[str, Any]) -> None:
        console.info(
            f"forecast: {summary['horizon']} × {summary['freq']} from {summary['forecast_from']}, "
            f"{summary['periods']} periods of history, backtest cutoffs {', '.join(summary['cutoffs']) or 'none'}"
        )
        backtest = summary.get("backtest", {})
        console.table(
            "series and backtest accuracy of `selected`",
            ["level", "series", "MASE", "WAPE", "coverage 80%", "coverage 90%"],
            [
                (
                    level,
                    n,
                    _fmt(backtest.get(level, {}).get("MASE")),
                    _fmt(backtest.get(level, {}).get("WAPE")),
                    _fmt(backtest.get(level, {}).get("coverage_80")),
                    _fmt(backtest.get(level, {}).get("coverage_90")),
                )
                for level, n in summary["series"].items()
            ],
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
