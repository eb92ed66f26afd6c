"""Warnings as a first-class result: a step says when its answer rests on weak data.

Every warning has a stable kebab-case ``code`` (registered in :data:`WARNING_CODES`, listed in
``docs/warnings.md`` by ``python -m c2m_cli.docs_gen --warnings``) and a one-line ``message`` in
plain words with the figures that triggered it. Library code collects them in a
:class:`WarningLog` (``step.warn(code, message)`` inside a workspace step, or a log passed to a
pure ``compute_X`` core); the step records them in the manifest entry, every command's ``--json``
carries them as ``"warnings": [{"code": ..., "message": ...}]``, the report shows them, and
``--strict`` turns a run that finished with warnings into exit 6 (after its outputs are written).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# code -> what it means (one line, for docs/warnings.md). Add a code here before using it.
WARNING_CODES: dict[str, str] = {
    # workspace / ingest
    "timezone-assumed": "No timezone was given or found in the data; naive timestamps were read in the zone named.",
    "market-assumed": "The market was detected from weak evidence (or defaulted); festivals follow it.",
    "stale-staging-cleared": "A killed earlier run left staging files in the workspace; they were removed.",
    # label
    "clv-few-customers": "BG/NBD / Gamma-Gamma were fitted on fewer customers than a stable fit needs.",
    "clv-degenerate-fit": "A CLV model's parameters are degenerate (at a bound or implausibly large); its values are unreliable.",
    "label-date-only": "Order timestamps carry dates only (all at 00:00 local time): hour of day and daypart are unknown.",
    "label-brand-not-brands": "The products' brand field names too few brands (e.g. only National / Private): brand loyalty is unknown.",
    "label-no-festival-calendar": "The workspace's market has no shopping-festival calendar: festival and gift-season labels are unknown.",
    # segment
    "segment-unstable": "No k met the stability threshold; the segmentation shown is the best available, not a stable one.",
    "segment-weak-structure": "The chosen segmentation separates users weakly (low silhouette).",
    # forecast
    "horizon-exceeds-history": "The forecast horizon is longer than the history it was fitted on.",
    "short-history": "A series holds too little history for a reliable forecast (or for its season).",
    # recommend
    "recommend-moq-loses-money": "The factory's minimum order quantity loses money in expectation on the demand computed; the newsvendor quantity is recommended instead.",
    "recommend-moq-above-demand": "The minimum order quantity exceeds the demand's P90 and no unit economics were given to judge it.",
    "recommend-trend-one-year": "The order lines span less than two years: a rising_demand trend cannot be told from the category's yearly season.",
    "recommend-price-band-unknown": "A category has too few products with a positive paid price (or only near-zero ones, like fuel or coupons): its price bands are unknown.",
}


@dataclass(frozen=True, order=True)
class Warning_:
    """One warning: a registered code and a message with the figures behind it."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class WarningLog:
    """An ordered, de-duplicated collection of warnings (insertion order is kept)."""

    items: list[Warning_] = field(default_factory=list)

    def warn(self, code: str, message: str) -> None:
        if code not in WARNING_CODES:
            raise ValueError(f"unregistered warning code {code!r}: add it to c2m_cli.diagnostics.WARNING_CODES")
        item = Warning_(code, message)
        if item not in self.items:
            self.items.append(item)

    def extend(self, other: Iterable[Warning_] | WarningLog) -> None:
        for item in other:
            self.warn(item.code, item.message)

    def __iter__(self) -> Iterator[Warning_]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def as_list(self) -> list[dict[str, str]]:
        return [item.as_dict() for item in self.items]

    def codes(self) -> list[str]:
        return [item.code for item in self.items]


def warnings_markdown() -> str:
    """``docs/warnings.md``: every warning code and what it means."""
    lines = [
        "# Warning codes",
        "",
        "Every command's `--json` has `\"warnings\": [{\"code\", \"message\"}]`; the manifest records",
        "them per step and the report shows them. `--strict` exits 6 when a step finished with any.",
        "",
        "| code | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in sorted(WARNING_CODES.items())]
    return "\n".join(lines) + "\n"
