"""`c2m ingest`."""

from __future__ import annotations

from pathlib import Path
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

NAME = "ingest"
HELP = "Read raw exports into the canonical tables orders, customers, products, events, reviews."
EPILOG = "Example: c2m ingest ./ws --orders '../exports/订单*.csv' --mapping shop.toml"

SrcOpt = Annotated[str | None, typer.Option(help="File, glob, directory or database URI.")]


def command(
    workspace: WorkspaceArg,
    orders: Annotated[str, typer.Option("--orders", help="Orders SRC: file, glob, directory or database URI.")],
    customers: Annotated[str | None, typer.Option("--customers", help="Customers SRC.")] = None,
    products: Annotated[str | None, typer.Option("--products", help="Products SRC.")] = None,
    events: Annotated[str | None, typer.Option("--events", help="Events SRC (search/view/cart/fav/presale).")] = None,
    reviews: Annotated[str | None, typer.Option("--reviews", help="Reviews SRC.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Mapping TOML: canonical column → source column.")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="A built-in layout: completejourney, cdnow.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Zone of naive timestamps (default UTC, or the mapping's).")] = None,
    market: Annotated[str, typer.Option("--market", help="Whose calendar applies: auto (detect from the data's language and zone), cn, us, another ISO country code, or none.")] = "auto",
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        named = (
            ("orders", orders),
            ("customers", customers),
            ("products", products),
            ("events", events),
            ("reviews", reviews),
        )
        return call_step(
            "c2m_cli.ingest:run_ingest",
            workspace,
            create=True,
            sources={name: src for name, src in named if src is not None},
            mapping=mapping,
            preset=preset,
            timezone=timezone,
            market=market,
            seed=seed,
            executor=executor,
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)


def render(summary: dict[str, Any]) -> None:
    tables = summary["tables"]
    console.table(
        f"ingested into {summary['workspace']} (data time zone {summary['data_timezone']})",
        ["table", "files", "rows in", "written", "rejected", "duplicates"],
        [
            (name, t["files"], f"{t['rows_in']:,}", f"{t['rows_written']:,}",
             f"{t['rows_rejected']:,}", f"{t['duplicates']:,}")
            for name, t in tables.items()
        ],
    )
    reasons = [
        (name, reason, f"{count:,}")
        for name, t in tables.items()
        for reason, count in t["reject_reasons"].items()
    ]
    if reasons:
        console.table("rejected rows by reason (see _rejects/<table>.parquet)", ["table", "reason", "rows"], reasons)
    notes = [(name, note) for name, t in tables.items() for note in t.get("notes", [])]
    if notes:  # files skipped, title lines above a header, a sheet chosen, a file decompressed
        console.table("notes", ["table", "note"], notes)
