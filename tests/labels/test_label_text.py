"""Text labels as people write Chinese: negation and its scope, hypotheticals and questions,
placeholder reviews, evidence quoting the clause — and precision / recall measured on real
reviews labelled by hand (tests/labels/data, see its README)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.labels.attitude import behaviour_hits, review_stats
from c2m_cli.labels.text import FAMILIES, document_tags, is_placeholder, score_tags, term_hits

DATA = Path(__file__).parent / "data"


def tags_of(text: str, source: str = "reviewed") -> set[str]:
    return set(document_tags([text], source)["tag"].to_list())


@pytest.mark.parametrize(
    "text",
    [
        "不是送礼用的",  # 送礼
        "我没有养猫也没有孩子",  # 宠物, 母婴: negation runs to the end of the clause
        "不健康",  # 健康
        "从来不打游戏",  # 电竞
        "不方便，不便宜",  # each clause its own negator
        "并不划算",
        "别买来送人",
        "没有瑕疵",  # 挑剔
        "I don't have kids",
        "not a gift",
    ],
)
def test_negated_cues_give_no_tag(text: str) -> None:
    assert tags_of(text) == set()


def test_negation_scope_ends_at_the_clause_or_a_contrast() -> None:
    assert tags_of("这个不便宜但是质量好") == {"品质"}  # 但是 opens a new clause
    assert tags_of("不便宜，质量好") == {"品质"}  # so does the comma
    assert tags_of("虽然没有优惠，不过包装精美适合送礼") == {"送礼"}
    assert tags_of("not cheap, but good quality") == {"品质"}
    # two negators close together cancel
    assert tags_of("不是不健康") == {"健康"}
    # a cue before the negator is stated: the child exists, it is the book it does not like
    assert tags_of("孩子不喜欢这本书") == {"母婴"}
    # 没想到 / 非常 / 不错 are not negations
    assert tags_of("没想到宝宝这么喜欢") == {"母婴"}
    assert tags_of("非常划算") == {"性价比"}


def test_hypotheticals_and_questions_give_no_tag_but_queries_keep_their_questions() -> None:
    for text in ("如果是送礼就好了", "要是有孩子就好了", "假如打折我就买", "这个适合送礼吗？", "是否适合宝宝", "if only it were a gift"):
        assert tags_of(text) == set(), text
    assert tags_of("主要是送礼") == {"送礼"}  # 主要是 is not 要是
    # a search is a question by nature: its cue counts
    assert tags_of("适合送礼吗", source="searched") == {"送礼"}
    assert tags_of("猫粮哪个牌子好？", source="searched") == {"宠物"}


def test_placeholder_reviews_are_ignored() -> None:
    for text in ("此用户没有填写评价。", "系统默认好评", "好评！", "好评", "默认评价", "买家未及时做出评价,系统默认好评!", "  "):
        assert is_placeholder(text), text
    for text in ("好评，宝宝很喜欢", "很好", "不错"):
        assert not is_placeholder(text), text
    docs = pl.DataFrame({"user_id": ["a", "b"], "source": ["reviewed", "reviewed"], "text": ["好评！", "好评，宝宝很喜欢"], "n": [1.0, 1.0]})
    hits = term_hits(docs)
    assert hits["user_id"].to_list() == ["b"] and hits["tag"].to_list() == ["母婴"]


def test_evidence_quotes_the_clause_that_fired() -> None:
    docs = pl.DataFrame(
        {"user_id": ["u"], "source": ["reviewed"], "text": ["快递很慢，买来送给女朋友的生日礼物，她很喜欢"], "n": [1.0]}
    )
    tags = score_tags(term_hits(docs), saturation=3.0)
    gift = tags.filter(pl.col("tag") == "送礼")
    assert gift.height == 1
    assert "「买来送给女朋友的生日礼物」" in gift["evidence"][0]
    assert "快递很慢" not in gift["evidence"][0]


def test_picky_needs_a_rating_not_a_low_sentiment_score() -> None:
    sentiment = pl.DataFrame(
        {
            "user_id": ["no_rating", "rated_low", "rated_high", "placeholder"],
            "rating": [None, 1, 5, 1],
            "sentiment": [0.05, 0.05, 0.05, None],
            "placeholder": [False, False, False, True],
        },
        schema_overrides={"rating": pl.Int32},
    )
    stats = review_stats(sentiment)
    assert stats is not None
    negative = dict(zip(stats["user_id"], stats["_negative_reviews"], strict=True))
    assert negative == {"no_rating": 0, "rated_low": 1, "rated_high": 0}  # the placeholder is not a review
    behaviour = pl.DataFrame(
        {"user_id": ["no_rating", "rated_low", "rated_high"], "behavior_returns": [0, 0, 0], "behavior_presale_buyer": [False] * 3,
         "behavior_presale_share": [0.0] * 3, "behavior_orders": [1, 1, 1], "behavior_brand_loyalty": [None, None, None]},
        schema_overrides={"behavior_brand_loyalty": pl.Float64},
    )
    hits = behaviour_hits(behaviour, stats, None, loyal_orders=4)
    picky = hits.filter(pl.col("tag") == "挑剔")
    assert picky["user_id"].to_list() == ["rated_low"]
    assert picky["term"].to_list() == ["差评(评分≤2)"]


# --- measured on real reviews --------------------------------------------------------------
# Precision / recall per family of the text labeller on the hand-labelled sets (a tag predicted
# when any clause of the text states one of its terms), as measured when the labels were made;
# a test fails if a change drops a figure by more than MARGIN. README quotes these figures.
MEASURED = {
    "handlabelled.csv": {"motive": (0.859, 0.750), "attitude": (0.862, 0.279), "lifestyle": (0.966, 0.659)},
    "handlabelled_holdout.csv": {"motive": (0.778, 0.667), "attitude": (0.824, 0.269), "lifestyle": (0.897, 0.634)},
}
MARGIN = 0.03


def measure(path: Path) -> dict[str, tuple[float, float, int]]:
    truth = pl.read_csv(path).with_columns(pl.col(*FAMILIES).fill_null(""))
    counts = {f: [0, 0, 0] for f in FAMILIES}
    for source, as_source in (("review", "reviewed"), ("query", "searched")):
        part = truth.filter(pl.col("source") == source)
        if part.is_empty():
            continue
        found = document_tags(part["text"].to_list(), as_source)
        for row in part.iter_rows(named=True):
            got_here = found.filter(pl.col("text") == row["text"])
            for family in FAMILIES:
                want = {t for t in row[family].split("|") if t}
                got = set(got_here.filter(pl.col("family") == family)["tag"].to_list())
                counts[family][0] += len(want & got)
                counts[family][1] += len(got - want)
                counts[family][2] += len(want - got)
    return {f: (tp / (tp + fp), tp / (tp + fn), tp + fn) for f, (tp, fp, fn) in counts.items()}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_precision_and_recall_on_hand_labelled_real_text(name: str) -> None:
    figures = measure(DATA / name)
    for family, (precision, recall) in MEASURED[name].items():
        got_p, got_r, support = figures[family]
        assert support >= 40, (family, support)  # enough true tags to measure on
        assert got_p >= precision - MARGIN, (name, family, "precision", round(got_p, 3))
        assert got_r >= recall - MARGIN, (name, family, "recall", round(got_r, 3))


def test_hand_labelled_sets_are_what_their_readme_says() -> None:
    main = pl.read_csv(DATA / "handlabelled.csv")
    holdout = pl.read_csv(DATA / "handlabelled_holdout.csv")
    reviews = main.filter(pl.col("source") == "review")
    assert reviews.height >= 300 and main.filter(pl.col("source") == "query").height >= 50
    assert reviews["stratum"].value_counts()["count"].to_list() == [80] * 4
    assert holdout.height == 100 and set(holdout["source"]) == {"review"}
    assert not set(holdout["id"]) & set(main["id"])
    allowed = {
        "motive": {"性价比", "品质", "颜值", "性能", "健康", "便利", "送礼", "身份"},
        "attitude": {"理性对比", "冲动", "尝鲜", "忠诚", "挑剔"},
        "lifestyle": {"母婴", "电竞", "运动户外", "美妆", "宠物", "健身", "烹饪", "旅行"},
    }
    for frame in (main, holdout):
        for family, tags in allowed.items():
            used = {t for v in frame[family].drop_nulls() for t in v.split("|") if t}
            assert used <= tags, (family, used - tags)


@pytest.mark.real_data
def test_hand_labelled_reviews_are_the_real_reviews(shared_data: Path) -> None:
    real = pl.read_csv(shared_data / "reviews_zh" / "reviews.csv").select("review_id", "text")
    for name in MEASURED:
        sample = pl.read_csv(DATA / name).filter(pl.col("source") == "review")
        joined = sample.join(real, left_on="id", right_on="review_id", how="left", suffix="_real")
        assert joined["text_real"].null_count() == 0
        assert (joined["text"] == joined["text_real"]).all(), name
