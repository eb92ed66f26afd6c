"""`c2m label`."""

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

NAME = "label"
HELP = (
    "Label every consumer: geography, demographics, value (RFM, BG/NBD P(alive), Gamma-Gamma CLV), "
    "occasion, behaviour, motive, attitude, lifestyle, lifecycle stage and growth ladder. "
    "Writes labels.parquet, tags.parquet and value_model.json."
)
EPILOG = (
    "Example: c2m label ./ws --as-of 2024-06-30 --active-days 60  "
    "(lifecycle thresholds stretch with each user's own purchase rhythm: "
    "stretch = clip(rhythm-multiple × median gap / active-days, 1, rhythm-max-stretch), "
    "once the user has at least rhythm-min-gaps gaps between purchase days). "
    "value_clv = margin × expected spend × purchases over clv-months discounted at discount-rate a year."
)


def command(
    workspace: WorkspaceArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date (YYYY-MM-DD); default: the date of the latest order, inclusive.")] = None,
    new_days: Annotated[int, typer.Option("--new-days", help="New: first purchase within this many days of the as-of date.")] = 30,
    active_days: Annotated[int, typer.Option("--active-days", help="Active: last purchase within this many days (× the user's stretch).")] = 90,
    sleeping_days: Annotated[int, typer.Option("--sleeping-days", help="Sleeping up to this many days since the last purchase (× stretch).")] = 180,
    dormant_days: Annotated[int, typer.Option("--dormant-days", help="Dormant up to this many days (× stretch); lost beyond.")] = 365,
    rhythm_multiple: Annotated[float, typer.Option("--rhythm-multiple", help="A user is still active within this many typical gaps between purchases.")] = 2.0,
    rhythm_min_gaps: Annotated[int, typer.Option("--rhythm-min-gaps", help="Gaps between purchase days a user needs before their own rhythm stretches the thresholds.")] = 3,
    rhythm_max_stretch: Annotated[float, typer.Option("--rhythm-max-stretch", help="Cap on the rhythm stretch of the lifecycle thresholds.")] = 3.0,
    p_alive_floor: Annotated[float, typer.Option("--p-alive-floor", help="Active-by-recency users with BG/NBD P(alive) below this are sleeping.")] = 0.05,
    p_alive_keep: Annotated[float, typer.Option("--p-alive-keep", help="Repeat buyers past the lost threshold with P(alive) at least this stay dormant.")] = 0.5,
    loyal_orders: Annotated[int, typer.Option("--loyal-orders", help="Purchase days to count as loyal on the growth ladder.")] = 4,
    super_share: Annotated[float, typer.Option("--super-share", help="Share of buyers at most labelled super_user (advocates most frequent and most vocal).")] = 0.02,
    clv_months: Annotated[int, typer.Option("--clv-months", help="Horizon of value_clv and expected purchases, in months.")] = 12,
    discount_rate: Annotated[float, typer.Option("--discount-rate", help="Annual discount rate of value_clv (0.10 = 10 % a year, applied monthly).")] = 0.10,
    margin: Annotated[float, typer.Option("--margin", help="Share of revenue kept as margin in value_clv (1.0: value_clv is discounted revenue).")] = 1.0,
    clv_draws: Annotated[int, typer.Option("--clv-draws", help="Parameter draws for the 80 % interval value_clv_p10 / value_clv_p90 (0: none).")] = 200,
    fit_sample: Annotated[int, typer.Option("--fit-sample", help="Customers sampled to fit BG/NBD and Gamma-Gamma (everyone is scored).")] = 100_000,
    tag_saturation: Annotated[float, typer.Option("--tag-saturation", help="Weighted term count at which a tag's score reaches 1 − 1/e.")] = 3.0,
    min_tag_score: Annotated[float, typer.Option("--min-tag-score", help="Tags at or above this score are listed in labels.parquet.")] = 0.5,
    partition_rows: Annotated[int, typer.Option("--partition-rows", help="Order lines per partition of users (by user hash); partitions run on --executor, memory stays bounded.")] = 2_000_000,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.labels:run_label",
            workspace,
            as_of=as_of,
            new_days=new_days,
            active_days=active_days,
            sleeping_days=sleeping_days,
            dormant_days=dormant_days,
            rhythm_multiple=rhythm_multiple,
            rhythm_min_gaps=rhythm_min_gaps,
            rhythm_max_stretch=rhythm_max_stretch,
            p_alive_floor=p_alive_floor,
            p_alive_keep=p_alive_keep,
            loyal_orders=loyal_orders,
            super_share=super_share,
            clv_months=clv_months,
            discount_rate=discount_rate,
            margin=margin,
            clv_draws=clv_draws,
            fit_sample=fit_sample,
            tag_saturation=tag_saturation,
            min_tag_score=min_tag_score,
            partition_rows=partition_rows,
            seed=seed,
            executor=executor,
        )

    def render(summary: dict[str, Any]) -> None:
        console.info(f"labelled {summary['users']:,} users as of {summary['as_of']} ({summary['data_timezone']}); {summary['tags']:,} tags")
        console.table("lifecycle", ["stage", "users"], [(k, f"{v:,}") for k, v in summary["lifecycle"].items()])
        if summary["bgnbd"]:
            bg, gg = summary["bgnbd"], summary["gamma_gamma"]
            console.info(
                "BG/NBD r={r} α={alpha} a={a} b={b}".format(**bg)
                + (" · Gamma-Gamma p={p} q={q} γ={v}".format(**gg) if gg else "")
                + (f" · mean 12-month CLV {summary['mean_clv']}" if summary["mean_clv"] is not None else "")
            )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
