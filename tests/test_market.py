"""Markets: detection from the data, each market's calendar, no China calendar on other data."""

from __future__ import annotations

import datetime as dt

import pytest

from c2m_cli.calendar import festival_calendar, festival_days, official_days
from c2m_cli.errors import UsageError
from c2m_cli.market import check_market, detect_market, market_of_timezone, workspace_market


def test_chinese_text_means_cn_whatever_the_zone() -> None:
    choice = detect_market("auto", timezone="UTC", texts=["笔记本电脑", "奶粉", "Apple", None])
    assert choice.market == "cn" and not choice.assumed
    assert "67% of 3" in choice.evidence


def test_zone_decides_when_text_is_not_chinese() -> None:
    assert detect_market("auto", timezone="America/New_York", texts=["MILK", "BREAD"]).market == "us"
    assert detect_market("auto", timezone="Europe/Berlin", texts=[]).market == "de"
    assert market_of_timezone("Asia/Shanghai") == "cn"


def test_no_evidence_is_none_and_assumed() -> None:
    choice = detect_market("auto", timezone="UTC", texts=["CD"])
    assert (choice.market, choice.assumed) == ("none", True)


def test_explicit_market_is_kept_and_bad_one_is_usage_error() -> None:
    assert detect_market("US", timezone="Asia/Shanghai", texts=["奶粉"]).market == "us"
    with pytest.raises(UsageError, match="--market 'mars': not a market"):
        check_market("mars")


def test_china_and_the_us_are_markets_without_the_holidays_country_list(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """cn and us (any case) are known without ``supported_countries`` (it imports every country
    of the holidays package); another code is checked against it."""
    import c2m_cli.market as market

    asked: list[str] = []

    def countries() -> frozenset[str]:
        asked.append("list")
        return frozenset({"gb"})

    monkeypatch.setattr(market, "supported_countries", countries)
    assert [check_market(v) for v in ("cn", " US ", "auto", "none")] == ["cn", "us", "auto", "none"]
    assert asked == []
    assert check_market("GB") == "gb" and asked == ["list"]
    with pytest.raises(UsageError, match="--market 'xx': not a market"):
        check_market("xx")


def test_legacy_manifest_falls_back_on_zone_never_on_china() -> None:
    assert workspace_market({"market": "us"}) == "us"
    assert workspace_market({"data_timezone": "Asia/Shanghai"}) == "cn"
    assert workspace_market({"data_timezone": "UTC"}) == "none"


def test_us_calendar_has_black_friday_and_no_singles_day() -> None:
    cal = festival_calendar("us").filter(year=2011)
    rows = {r["festival"]: r for r in cal.iter_rows(named=True)}
    assert rows["Black Friday"]["peak"] == dt.date(2011, 11, 25)  # day after Thanksgiving, Nov 24
    assert rows["Christmas"]["end"] == dt.date(2011, 12, 24)
    assert "双11" not in rows and "618" not in rows
    days = festival_days(dt.date(2011, 1, 1), dt.date(2011, 12, 31), market="us")
    assert not days.filter(festival="双11").height
    us_days = official_days(2011, 2011, market="us")["date"].to_list()
    assert dt.date(2011, 11, 24) in us_days and dt.date(2011, 10, 1) not in us_days


def test_china_calendar_continues_past_the_seed_by_its_rules() -> None:
    cal = festival_calendar("cn")
    assert set(range(2015, 2061)) <= set(cal["year"].to_list())
    spring_2040 = cal.filter(festival="春节", year=2040)["peak"][0]
    assert spring_2040 == dt.date(2040, 2, 12)  # 正月初一 2040 (lunar new year)


def test_market_none_has_no_calendar() -> None:
    assert festival_calendar("none").height == 0
    assert official_days(2020, 2021, market="none").height == 0
