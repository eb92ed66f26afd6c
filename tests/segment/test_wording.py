"""Names, descriptions and actions: from each segment's own figures, consistent with its
lifecycle mix, in the data's language only, no sentence shared by two segments, no word twice."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.segment import run_segment
from c2m_cli.segment.features import FeatureSpec
from c2m_cli.segment.profile import Distinct, SegmentFacts
from c2m_cli.segment.wording import action, data_language, describe, write
from c2m_cli.workspace import Workspace
from tests.segment.world import TYPES_EN, planted_world, write_world

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
SEPARATORS = re.compile(r"；|; |、|, | and |：|: ")


def _facts(mix: dict[str, float], *, value_index: float = 1.0, distinctive: list[Distinct] | None = None) -> SegmentFacts:
    return SegmentFacts(
        segment_id="S01", size=100, share=0.2, value_share=0.2 * value_index, value_index=value_index,
        stage_mix=mix, distinctive=distinctive or [], traits=[],
        categories=[{"value": "MEAT", "spend_share": 0.3, "lift": 2.0}, {"value": "DELI", "spend_share": 0.1, "lift": 1.5}],
    )


@pytest.mark.parametrize(
    ("mix", "kind"),
    [
        ({"new": 0.0, "active": 0.4, "sleeping": 0.2, "dormant": 0.2, "lost": 0.2}, "retain_and_remind"),  # 40 % active: no win-back
        ({"new": 0.05, "active": 0.25, "sleeping": 0.3, "dormant": 0.2, "lost": 0.2}, "win_back"),
        ({"new": 0.5, "active": 0.3, "sleeping": 0.1, "dormant": 0.05, "lost": 0.05}, "onboard"),
        ({"new": 0.1, "active": 0.8, "sleeping": 0.1, "dormant": 0.0, "lost": 0.0}, "grow"),
    ],
)
def test_the_action_follows_the_lifecycle_mix(mix, kind):
    got, campaign, _ = action(_facts(mix), "en")
    assert got == kind
    if kind != "win_back":
        assert "Win back" not in campaign
    lapsed = mix["sleeping"] + mix["dormant"] + mix["lost"]
    if kind in ("win_back", "retain_and_remind"):
        assert f"{lapsed * 100:.0f}%" in campaign  # the figure that calls for it
    assert "MEAT" in campaign


def test_value_then_a_behaviour_lever_shape_an_engaged_segment():
    engaged = {"new": 0.1, "active": 0.85, "sleeping": 0.05, "dormant": 0.0, "lost": 0.0}
    assert action(_facts(engaged, value_index=2.0), "en")[0] == "vip"
    assert action(_facts(engaged, value_index=0.5), "en")[0] == "basket"
    spec = FeatureSpec(name="behavior_discount_share", family="behavior", kind="numeric", column="behavior_discount_share")
    lever = Distinct(spec, segment=0.42, rest=0.12, d=1.3, lift=None)
    _, campaign, _ = action(_facts(engaged, distinctive=[lever]), "en")
    assert campaign.endswith("; lead with coupons (discount share 42% vs 12% elsewhere)")
    _, zh, _ = action(_facts(engaged, distinctive=[lever]), "zh")
    assert zh.endswith("；以券促单（折扣订单占比42%，其余12%）")


def test_words_not_in_the_data_language_are_left_out():
    tag = FeatureSpec(name="tag:lifestyle:母婴", family="lifestyle", kind="tag", tag_family="lifestyle", tag="母婴")
    col = FeatureSpec(name="lifestyle_母婴", family="lifestyle", kind="numeric", column="lifestyle_母婴")
    dept = FeatureSpec(name="mix:category_l1=MEAT", family="mix", kind="mix", column="category_l1", by="category_l1", value="MEAT")
    f = _facts({"active": 1.0}, distinctive=[Distinct(tag, 0.5, 0.1, 1.2, 5.0), Distinct(col, 0.4, 0.1, 1.1, None), Distinct(dept, 0.3, 0.1, 0.9, 3.0)])
    text = describe(f, "en")
    assert text == "20% of users and 20% of expected value; stands out by 30% of spend on MEAT vs 10% elsewhere; lifecycle: 100% active, 0% new, 0% lapsed (0 users)"
    # in Chinese, the tag and its score column are one word: said once
    zh = describe(f, "zh")
    assert zh.count("母婴") == 1 and "MEAT消费占比30%（其余10%）" in zh


def test_language_comes_from_the_data_not_from_c2m_vocabulary():
    assert data_language(["MEAT", "PRODUCE", "Private"], market="us") == "en"
    assert data_language(["奶粉", "猫粮", "iPhone"], market="none") == "zh"
    assert data_language([], market="cn") == "zh"
    assert data_language([], market="us", fallback=["90后", "新一线"]) == "zh"
    assert data_language([], market="us") == "en"


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"；|; ", text) if c.strip()]


def _assert_distinct_texts(profiles: pl.DataFrame) -> None:
    assert profiles["segment_name"].n_unique() == profiles.height
    for column in ("description", "suggested_action"):
        seen: dict[str, str] = {}
        for sid, text in zip(profiles["segment_id"], profiles[column], strict=True):
            for clause in _clauses(text):
                assert clause not in seen, (column, clause, sid, seen.get(clause))
                seen[clause] = sid
            items = [i.strip() for i in SEPARATORS.split(text) if i.strip()]
            assert len(items) == len(set(items)), (column, text)  # no "母婴、母婴"
    for name in profiles["segment_name"]:
        words = name.split(" ")
        assert len(words) == len(set(words)), name


@pytest.fixture(scope="module")
def zh_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zh_words")
    labels, tags, _ = planted_world(1500, seed=11)
    write_world(root, labels, tags)
    run_segment(Workspace(root), k="auto", k_max=7, n_boot=2)
    return root


def test_planted_world_texts_are_distinct_and_consistent(zh_world):
    profiles = pl.read_parquet(zh_world / "segment_profiles.parquet")
    _assert_distinct_texts(profiles)
    for row in profiles.iter_rows(named=True):
        lapsed = row["lifecycle_sleeping"] + row["lifecycle_dormant"] + row["lifecycle_lost"]
        if row["action_kind"] == "win_back":
            assert lapsed >= 0.7
        if row["lifecycle_active"] >= 0.3:
            assert row["action_kind"] != "win_back" and "唤醒召回" not in row["suggested_action"]
        assert row["description"].startswith("占用户") and CJK.search(row["campaign"])
        # the distinctive features are ranked by |d| against the rest
        ds = [abs(x["d"]) for x in row["distinctive"]]
        assert ds == sorted(ds, reverse=True) and ds[0] >= 0.2


def test_english_data_with_chinese_tags_stays_english(tmp_path):
    labels, tags, _ = planted_world(900, types=TYPES_EN, seed=3)
    zh_tags = tags.with_columns(pl.lit("motive").alias("family"), pl.lit("性价比").alias("tag")).head(400)
    products = pl.DataFrame({"sku": ["s1", "s2"], "category_l1": ["MEAT", "PRODUCE"]})
    write_world(tmp_path, labels, pl.concat([tags, zh_tags]))
    products.write_parquet(tmp_path / "products.parquet")
    summary = run_segment(Workspace(tmp_path), k=4, n_boot=1)
    assert summary["language"] == "en"
    profiles = pl.read_parquet(tmp_path / "segment_profiles.parquet")
    for column in ("segment_name", "description", "campaign", "product_mix", "suggested_action"):
        for text in profiles[column]:
            assert not CJK.search(text), (column, text)
    assert not any(CJK.search(t) for tags_ in profiles["top_tags"] for t in tags_)
    _assert_distinct_texts(profiles)


def test_write_never_gives_two_segments_one_name():
    mix = {"active": 1.0}
    a, b = _facts(mix), _facts(mix)
    b.segment_id = "S02"
    texts = write([a, b], "en")
    assert [t.name for t in texts] == ["customers (S01)", "customers (S02)"]
