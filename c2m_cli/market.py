"""A workspace's market: whose festivals, holidays and shopping calendar apply (DESIGN.md).

The market is ``cn``, ``us``, another ISO 3166 country code the ``holidays`` package knows
(public holidays only, no shopping festivals), or ``none``. ``c2m ingest --market`` sets it; with
``auto`` (the default) it is detected from the data and recorded in the manifest with the evidence:

1. the share of Chinese characters in the data's own text (product names and categories, review
   texts, search queries, cities) — Chinese text means ``cn``;
2. otherwise the data's time zone (``Asia/Shanghai`` → ``cn``, ``America/New_York`` → ``us``;
   any zone of the IANA ``zone.tab`` maps to its country);
3. otherwise ``none``, with the warning ``market-assumed``: no festival is applied.

Every step reads the market with :func:`workspace_market` and passes it to ``c2m_cli.calendar``;
no step applies China's calendar to data of another market.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from c2m_cli.errors import UsageError

MARKETS_WITH_SHOPPING_CALENDAR = ("cn", "us")
NO_MARKET = "none"
CJK_SHARE_FOR_CN = 0.2  # share of sampled text values holding a CJK ideograph

_CN_ZONES = {
    "Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi",
    "Asia/Kashgar", "PRC", "Etc/GMT-8",
}
_US_ZONES_PREFIX = ("US/",)


@cache
def supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(code.lower() for code in holidays.list_supported_countries())


def check_market(value: str) -> str:
    """``auto``, ``none``, ``cn``, ``us`` or a country code the holidays package knows (exit 2 else)."""
    market = value.strip().lower()
    # China and the US without asking the holidays package (its list of countries imports
    # every country's module: ~0.3 s)
    if market in {"auto", NO_MARKET, "cn", "us"} or market in supported_countries():
        return market
    raise UsageError(
        f"--market {value!r}: not a market; use auto, none, cn, us or an ISO 3166 country code"
        " (e.g. gb, de, jp)"
    )


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO country code, from the system's zone.tab (empty when it is absent)."""
    table: dict[str, str] = {}
    for name in ("zone1970.tab", "zone.tab"):
        path = Path("/usr/share/zoneinfo") / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) >= 3:
                codes = parts[0].split(",")
                table.setdefault(parts[2], codes[0].lower())
    return table


def market_of_timezone(zone: str | None) -> str | None:
    """The country a time zone belongs to, or None for UTC and zones shared by many countries."""
    if not zone or zone.upper() in {"UTC", "GMT", "ETC/UTC", "Z"}:
        return None
    if zone in _CN_ZONES:
        return "cn"
    if zone.startswith(_US_ZONES_PREFIX):
        return "us"
    code = _zone_countries().get(zone)
    if code and code in supported_countries():
        return code
    return None


def cjk_share(values: Iterable[str | None]) -> tuple[float, int]:
    """Share of non-empty values holding at least one CJK ideograph, and how many were seen."""
    seen = cjk = 0
    for value in values:
        if not value:
            continue
        seen += 1
        if any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in value):
            cjk += 1
    return (cjk / seen if seen else 0.0), seen


@dataclass(frozen=True)
class MarketChoice:
    market: str
    evidence: str
    assumed: bool  # True when no evidence supported it (the caller warns ``market-assumed``)

    def as_dict(self) -> dict[str, Any]:
        return {"market": self.market, "evidence": self.evidence, "assumed": self.assumed}


def detect_market(requested: str, *, timezone: str | None, texts: Iterable[str | None]) -> MarketChoice:
    """Choose the market: the one requested, else from the data's text, else its time zone."""
    market = check_market(requested)
    if market != "auto":
        return MarketChoice(market, "given by --market or the mapping", False)
    share, seen = cjk_share(texts)
    if seen and share >= CJK_SHARE_FOR_CN:
        return MarketChoice("cn", f"{share:.0%} of {seen:,} text values are Chinese", False)
    from_zone = market_of_timezone(timezone)
    if from_zone:
        return MarketChoice(from_zone, f"data time zone {timezone}", False)
    detail = f"{share:.0%} of {seen:,} text values Chinese" if seen else "no text values"
    return MarketChoice(
        NO_MARKET,
        f"no market evidence ({detail}, time zone {timezone or 'UTC'}); no festival calendar applied",
        True,
    )


def workspace_market(manifest: dict[str, Any]) -> str:
    """The market recorded for a workspace (``market`` in its manifest).

    A workspace ingested before markets were recorded falls back on its data time zone (``none``
    when that names no country), never silently on China's calendar.
    """
    recorded = manifest.get("market")
    if isinstance(recorded, str) and recorded:
        return recorded
    return market_of_timezone(manifest.get("data_timezone")) or NO_MARKET
