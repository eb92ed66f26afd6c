"""The 5CM ladder in labels.parquet: rungs known only where the workspace holds their evidence."""

from __future__ import annotations

import polars as pl

from c2m_cli.labels import growth_labels

LABELS = pl.DataFrame(
    {
        "user_id": ["a", "b", "c"],
        "demo_gender": ["女", None, None],
        "behavior_purchase_days": [5, 1, 2],
        "lifecycle_ladder": ["super_user", "one_time", "repeat"],
    }
)


def test_without_reviews_or_searches_rungs_3_to_5_are_unknown() -> None:
    out = growth_labels(LABELS, None, None).sort("user_id")
    assert out["lifecycle_growth_1cm"].to_list() == [True, False, False]
    assert out["lifecycle_growth_2cm"].to_list() == [True, False, True]
    for rung in (3, 4, 5):
        assert out[f"lifecycle_growth_{rung}cm"].null_count() == 3
    assert out["lifecycle_growth_cm"].to_list() == ["2CM", "none", "2CM"]
    assert set(out["lifecycle_growth_known_to"]) == {"2CM"}


def test_searches_and_reviews_reach_the_upper_rungs() -> None:
    events = pl.LazyFrame({"user_id": ["b", "b", "c"], "event": ["search", "view", "view"]})
    reviews = pl.DataFrame({"user_id": ["a", "c"], "rating": [5, 2], "sentiment": [0.9, 0.1]})
    out = growth_labels(LABELS, events, reviews).sort("user_id")
    assert out["lifecycle_growth_3cm"].to_list() == [True, True, True]
    assert out["lifecycle_growth_4cm"].to_list() == [True, False, False]
    assert out["lifecycle_growth_cm"].to_list() == ["5CM", "3CM", "3CM"]
    assert set(out["lifecycle_growth_known_to"]) == {"5CM"}


def test_a_range_of_users_takes_the_workspaces_evidence() -> None:
    """Labelled range by range, users with no demographics, searches or reviews of their own
    get false (not unknown) on the rungs the workspace as a whole can show: the rows equal
    those of the whole table labelled at once."""
    events = pl.LazyFrame({"user_id": ["b", "c"], "event": ["search", "view"]})
    reviews = pl.DataFrame({"user_id": ["a"], "rating": [5], "sentiment": [0.9]})
    rest = pl.DataFrame(
        {"user_id": ["d", "e"], "demo_gender": [None, None], "behavior_purchase_days": [1, 3], "lifecycle_ladder": ["one_time", "repeat"]},
        schema=LABELS.schema,
    )
    alone = growth_labels(rest, None, None, searches=pl.DataFrame(schema={"user_id": pl.String}))
    assert alone["lifecycle_growth_1cm"].null_count() == 2 and set(alone["lifecycle_growth_known_to"]) == {"2CM"}
    known = {1: True, 2: True, 3: True, 4: True, 5: True}
    ranged = growth_labels(rest, None, None, searches=pl.DataFrame(schema={"user_id": pl.String}), known=known)
    for rung in (1, 3, 4, 5):
        assert ranged[f"lifecycle_growth_{rung}cm"].to_list() == [False, False]
    assert ranged["lifecycle_growth_cm"].to_list() == ["none", "2CM"]
    whole = growth_labels(pl.concat([LABELS, rest]), events, reviews).filter(pl.col("user_id").is_in(["d", "e"])).sort("user_id")
    assert ranged.sort("user_id").equals(whole)
