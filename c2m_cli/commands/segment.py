"""`c2m segment`: parse options, call ``run_segment``, render the selection table and segments."""

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

NAME = "segment"
HELP = (
    "Group labelled consumers into segments a marketer can act on.\n\n"
    "Reads labels.parquet (+ tags.parquet, orders and products when present); writes "
    "segments.parquet, segment_profiles.parquet and segment_model.json. With --k auto, k is "
    "chosen in --k-min…--k-max: among k whose mean bootstrap adjusted Rand index reaches "
    "--min-stability, the smallest k whose silhouette is within one standard error of the highest "
    "(a larger k must fit clearly better); if none is that stable, the most stable k is shown "
    "with the warning segment-unstable and `ok: false` in --json. "
    "--assign scores other users with the saved model into segment_assignments.parquet."
)
EPILOG = (
    "Example: c2m segment ./ws --k auto --method kmeans --seed 0; "
    "to assign other users: c2m segment ./ws --assign ./other/labels.parquet"
)


def command(
    workspace: WorkspaceArg,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or `auto` to choose in --k-min…--k-max.")] = "auto",
    method: Annotated[str, typer.Option("--method", help="Clustering: `kmeans` (MiniBatch beyond 200,000 users) or `gmm` (diagonal Gaussian mixture).")] = "kmeans",
    assign: Annotated[Path | None, typer.Option("--assign", help="Assign the users of OTHER_LABELS.parquet (tags.parquet beside it is used) with the saved model.", metavar="OTHER_LABELS.parquet")] = None,
    k_min: Annotated[int, typer.Option("--k-min", help="Smallest k tried by --k auto.")] = 3,
    k_max: Annotated[int, typer.Option("--k-max", help="Largest k tried by --k auto.")] = 12,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples per k for the stability (ARI, Jaccard).")] = 5,
    sample_size: Annotated[int, typer.Option("--sample-size", help="Users sampled to choose k and measure stability (at least 5 per segment of the largest k).")] = 8000,
    min_stability: Annotated[float, typer.Option("--min-stability", help="Mean bootstrap ARI (in (0, 1]) a k needs to be chosen on fit.")] = 0.8,
    reduce: Annotated[str, typer.Option("--reduce", help="Dimensionality reduction before clustering: `none` or `pca` (90% of variance).")] = "none",
    partition_users: Annotated[int, typer.Option("--partition-users", help="Users per partition of the final assignment (one executor task each, users split by a stable hash of user_id; each task reads its users' labels, tags and orders and builds their features). Features, k and clustering are fitted on at most ~200,000 users (a seeded hash sample of user_id beyond that).")] = 200_000,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.segment:run_segment",
            workspace,
            k=k,
            method=method,
            assign=assign,
            k_min=k_min,
            k_max=k_max,
            n_boot=bootstrap,
            sample_size=sample_size,
            min_stability=min_stability,
            reduce=reduce,
            partition_users=partition_users,
            seed=seed,
            executor=executor,
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)


def _num(x: Any, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def render(summary: dict[str, Any]) -> None:
    if "assigned" in summary:
        console.info(f"assigned {summary['assigned']:,} users → {summary['output']}")
        console.table(
            "assignments",
            ["segment", "name", "users"],
            [(s["segment_id"], s["segment_name"], f"{s['size']:,}") for s in summary["segments"]],
        )
        return
    gmm = summary["method"] == "gmm"
    console.table(
        f"choosing k ({summary['k_mode']}): {summary['criterion']}",
        ["k", "silhouette", *(["BIC"] if gmm else []), "bootstrap ARI", "min ARI", "chosen"],
        [
            (
                r["k"],
                _num(r.get("silhouette"), ".3f"),
                *([_num(r.get("bic"), ",.0f")] if gmm else []),
                _num(r["stability_ari"], ".3f"),
                _num(r["stability_ari_min"], ".3f"),
                "◀" if r["chosen"] else "",
            )
            for r in summary["selection"]
        ],
    )
    console.table(
        f"{summary['k']} segments of {summary['users']:,} users ({summary['algorithm']}, {summary['features']} features)"
        + ("" if summary.get("stable", True) else " — not stable, see the warning"),
        ["segment", "name", "users", "share", "value share", "stability", "description"],
        [
            (
                s["segment_id"],
                s["segment_name"],
                f"{s['size']:,}",
                _num(s["share"], ".1%"),
                _num(s["value_share"], ".1%"),
                _num(s["stability_jaccard"], ".2f"),
                s["description"],
            )
            for s in summary["segments"]
        ],
    )
    ladder = summary.get("growth_ladder") or []
    if ladder:
        known = [r["rung"] for r in ladder if r["known"]]
        unknown = [f"{r['rung']} ({r['unknown_because']})" for r in ladder if not r["known"]]
        console.info("5CM growth ladder: shown for " + (", ".join(known) or "no rung") + (
            "; unknown: " + "; ".join(unknown) if unknown else ""
        ))
