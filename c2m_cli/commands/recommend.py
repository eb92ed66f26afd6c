"""`c2m recommend`."""

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

NAME = "recommend"
HELP = "Tell a manufacturer what to build, for whom, at which price and how many."
EPILOG = (
    "Example: c2m recommend ./ws --service-level 0.95 --unit-cost 1800 --unit-price 2999 --moq 500 "
    "--hash-ids --salt s3cret"
)


def command(
    workspace: WorkspaceArg,
    service_level: Annotated[float, typer.Option("--service-level", help="Newsvendor service level when prices are not given.")] = 0.9,
    unit_cost: Annotated[float | None, typer.Option("--unit-cost", help="Unit production cost; needs --unit-price (the two set the critical ratio and the expected profit).")] = None,
    unit_price: Annotated[float | None, typer.Option("--unit-price", help="Unit selling price; needs --unit-cost.")] = None,
    salvage: Annotated[float, typer.Option("--salvage", help="Value of a unit left over.")] = 0.0,
    moq: Annotated[float, typer.Option("--moq", help="Minimum order quantity of the factory: recommended only when its expected profit is positive (flagged otherwise).")] = 0.0,
    deposit_conversion: Annotated[float, typer.Option("--deposit-conversion", help="Orders per pre-sale deposit; the confirmed deposits are the floor under the forecast.")] = 0.9,
    cancel_rate: Annotated[float, typer.Option("--cancel-rate", help="Share of deposits cancelled when no earlier pre-sale shows it.")] = 0.05,
    min_support: Annotated[float, typer.Option("--min-support", help="Minimum share of baskets for a bundle (at least 5 baskets).")] = 0.001,
    hash_ids: Annotated[bool, typer.Option("--hash-ids", help="Write audiences.csv with user ids replaced by HMAC-SHA256 keyed by --salt (needs --salt).")] = False,
    salt: Annotated[str, typer.Option("--salt", help="Secret key for --hash-ids; never recorded in the manifest, logs or output.")] = "",
    top: Annotated[int, typer.Option("--top", help="Number of top opportunities that get a brief.")] = 5,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.recommend:run_recommend",
            workspace,
            service_level=service_level,
            unit_cost=unit_cost,
            unit_price=unit_price,
            salvage=salvage,
            moq=moq,
            deposit_conversion=deposit_conversion,
            cancel_rate=cancel_rate,
            min_support=min_support,
            hash_ids=hash_ids,
            salt=salt,
            top=top,
            seed=seed,
            executor=executor,
        )

    def render(summary: dict[str, Any]) -> None:
        console.table(
            f"top opportunities ({summary['opportunities']} in all)",
            ["rank", "kind", "category", "subject", "score"],
            [(o["rank"], o["kind"], o["category"] or "", o["subject"], f"{o['score']:.2f}") for o in summary["top_opportunities"]],
        )
        console.info(
            f"{summary['briefs']} briefs, {len(summary['quantities'])} quantities, "
            f"{summary['bundles']} bundle rules"
        )
        audiences = summary["audiences"]
        if isinstance(audiences, dict) and audiences:
            console.table("audiences", ["audience", "users"], [(k, f"{v:,}") for k, v in audiences.items()])
        for name, reason in summary["skipped"].items():
            console.info(f"skipped {name}: {reason}")

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
