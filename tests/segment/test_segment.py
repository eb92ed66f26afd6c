"""run_segment end to end on declarative worlds with planted consumer types."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from c2m_cli.errors import InvalidDataError, MissingPrerequisiteError, UsageError
from c2m_cli.segment import run_segment
from c2m_cli.workspace import Workspace
from tests.segment.world import STAGES, TYPES_EN, planted_world, write_world

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, np.ndarray, pl.DataFrame]:
    root = tmp_path_factory.mktemp("zh")
    labels, tags, truth = planted_world(4000, seed=1)
    write_world(root, labels, tags)
    summary = run_segment(Workspace(root), k="auto", seed=0)
    return root, summary, truth, labels


def test_auto_k_recovers_the_planted_types(zh_run):
    root, summary, truth, _ = zh_run
    assert summary["k"] == 5 and summary["k_mode"] == "auto"
    assert [r["k"] for r in summary["selection"]] == list(range(3, 13))
    assert [r["k"] for r in summary["selection"] if r["chosen"]] == [5]
    segments = pl.read_parquet(root / "segments.parquet")
    assert segments.columns == ["user_id", "segment_id", "segment_name", "distance"]
    assert segments.height == 4000 and segments["user_id"].n_unique() == 4000
    assert adjusted_rand_score(truth, segments["segment_id"].to_numpy()) >= 0.8
    # each planted type's three defining values name the segment that holds most of its users
    profiles = pl.read_parquet(root / "segment_profiles.parquet")
    names = dict(zip(profiles["segment_id"], profiles["segment_name"], strict=True))
    from tests.segment.world import TYPES_ZH

    joined = segments.with_columns(pl.Series("truth", truth))
    for t, (generation, tier, lifestyle, _) in enumerate(TYPES_ZH):
        seg = joined.filter(pl.col("truth") == t)["segment_id"].mode().item()
        assert all(word in names[seg] for word in (generation, tier, lifestyle)), (names[seg], generation, tier, lifestyle)


def test_profiles_are_computed_from_the_data(zh_run):
    root, _, _, labels = zh_run
    segments = pl.read_parquet(root / "segments.parquet")
    profiles = pl.read_parquet(root / "segment_profiles.parquet").sort("segment_id")
    joined = labels.join(segments, on="user_id")
    expect = (
        joined.group_by("segment_id")
        .agg(
            pl.len().alias("size"),
            pl.col("value_clv").sum().alias("clv"),
            pl.col("value_clv").mean().alias("clv_mean"),
            (pl.col("lifecycle_stage") == "lost").mean().alias("lost"),
            (pl.col("demo_generation") == "90后").mean().alias("g90"),
        )
        .sort("segment_id")
    )
    assert profiles["size"].to_list() == expect["size"].to_list()
    assert profiles["size"].sum() == 4000
    assert profiles["share"].to_list() == pytest.approx((expect["size"] / 4000).to_list())
    assert profiles["value_share"].to_list() == pytest.approx((expect["clv"] / labels["value_clv"].sum()).to_list())
    assert profiles["avg_clv"].to_list() == pytest.approx(expect["clv_mean"].to_list())
    assert profiles["lifecycle_lost"].to_list() == pytest.approx(expect["lost"].to_list())
    assert sum(profiles.select(f"lifecycle_{s}" for s in STAGES).row(0)) == pytest.approx(1.0)
    # centroid (raw units) and z-score of the one-hot 90后 and of value_clv
    base_g90 = (labels["demo_generation"] == "90后").mean()
    base_std = (labels["demo_generation"] == "90后").cast(pl.Float64).std()
    feats = profiles.select("segment_id", "features").explode("features").unnest("features")
    g90 = feats.filter(pl.col("feature") == "demo_generation=90后").sort("segment_id")
    assert g90["centroid"].to_list() == pytest.approx(expect["g90"].to_list())
    assert g90["z"].to_list() == pytest.approx(((expect["g90"] - base_g90) / base_std).to_list())
    clv = feats.filter(pl.col("feature") == "value_clv").sort("segment_id")
    assert clv["centroid"].to_list() == pytest.approx(expect["clv_mean"].to_list())
    # stability per segment: bootstrap Jaccard in [0, 1], high for planted types
    assert profiles["stability_jaccard"].min() >= 0.75
    # Chinese data → Chinese texts
    for text in profiles["description"].to_list() + profiles["campaign"].to_list():
        assert CJK.search(text)
    assert all(d.startswith("占用户") for d in profiles["description"])


def test_model_json_reassigns_the_same_users_identically(zh_run, tmp_path):
    root, summary, _, _ = zh_run
    model = json.loads((root / "segment_model.json").read_text(encoding="utf-8"))
    assert model["selection"]["chosen_k"] == 5
    assert "within one standard error of the highest silhouette" in model["selection"]["criterion"]
    assert len(model["clustering"]["centers"]) == 5
    assert [f["name"] for f in model["features"]][:2] == ["value_clv", "value_p_alive"]
    assert {"center", "scale", "weight", "clip"} <= set(model["features"][0])
    assert {d["column"] for d in model["dropped_columns"]} == {"geo_city"}
    # scoring the same labels (with tags beside them) from the JSON model alone gives the same segments
    other = tmp_path / "other"
    other.mkdir()
    (other / "labels.parquet").write_bytes((root / "labels.parquet").read_bytes())
    (other / "tags.parquet").write_bytes((root / "tags.parquet").read_bytes())
    before = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["steps"]
    out = run_segment(Workspace(root), assign=other / "labels.parquet")
    assert out["assigned"] == 4000
    assigned = pl.read_parquet(root / "segment_assignments.parquet")
    segments = pl.read_parquet(root / "segments.parquet")
    both = segments.join(assigned, on="user_id", suffix="_new")
    assert both.height == 4000
    assert (both["segment_id"] == both["segment_id_new"]).all()
    assert both["distance"].to_list() == pytest.approx(both["distance_new"].to_list(), abs=1e-5)
    steps = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["steps"]
    assert len(steps) == len(before) + 1 and steps[-1]["parameters"]["assign"] == str((other / "labels.parquet").resolve())


def test_same_seed_gives_byte_identical_outputs(tmp_path):
    labels, tags, _ = planted_world(1500, seed=3)
    digests = []
    for name in ("a", "b"):
        write_world(tmp_path / name, labels, tags)
        run_segment(Workspace(tmp_path / name), k="auto", k_max=6, n_boot=2, seed=7)
        digests.append(
            [(tmp_path / name / f).read_bytes() for f in ("segments.parquet", "segment_profiles.parquet", "segment_model.json")]
        )
    assert digests[0] == digests[1]


def test_english_data_gets_english_names_and_gmm_works(tmp_path):
    labels, tags, truth = planted_world(3000, types=TYPES_EN, seed=2)
    write_world(tmp_path, labels, tags)
    summary = run_segment(Workspace(tmp_path), k=4, method="gmm", n_boot=3)
    assert summary["k"] == 4 and summary["algorithm"] == "gmm-diag" and summary["language"] == "en"
    segments = pl.read_parquet(tmp_path / "segments.parquet")
    assert adjusted_rand_score(truth, segments["segment_id"].to_numpy()) >= 0.8
    profiles = pl.read_parquet(tmp_path / "segment_profiles.parquet")
    for text in profiles["segment_name"].to_list() + profiles["description"].to_list():
        assert not CJK.search(text)
    assert any("gaming" in name and "18-24" in name for name in profiles["segment_name"])
    pattern = r"^\d+% of users and \d+% of expected value; stands out by .+; lifecycle: \d+% active, \d+% new, \d+% lapsed \([\d,]+ users\)$"
    assert all(re.match(pattern, d) for d in profiles["description"]), profiles["description"].to_list()
    model = json.loads((tmp_path / "segment_model.json").read_text(encoding="utf-8"))
    assert set(model["clustering"]) >= {"variances", "weights", "centers"}


def test_top_categories_and_brands_over_index_from_orders(tmp_path):
    labels, tags, truth = planted_world(600, types=TYPES_EN, seed=4, purity=1.0)
    users = labels["user_id"]
    # type t buys category cat{t} from brand b{t} (4 lines), plus one line of a common category
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(users.len() * 5)],
            "user_id": pl.concat([users] * 5),
            "sku": [f"s{t}" for t in np.tile(truth, 4)] + ["common"] * users.len(),
            "ts": pl.Series([0] * (users.len() * 5)).cast(pl.Datetime("us", "UTC")),
            "qty": [1.0] * (users.len() * 5),
            "unit_price": [10.0] * (users.len() * 5),
        }
    )
    products = pl.DataFrame(
        {
            "sku": [f"s{t}" for t in range(4)] + ["common"],
            "category_l1": [f"cat{t}" for t in range(4)] + ["staples"],
            "brand": [f"b{t}" for t in range(4)] + ["house"],
        }
    )
    write_world(tmp_path, labels, tags)
    orders.write_parquet(tmp_path / "orders.parquet")
    products.write_parquet(tmp_path / "products.parquet")
    run_segment(Workspace(tmp_path), k=4, n_boot=2)
    segs = pl.read_parquet(tmp_path / "segments.parquet").with_columns(pl.Series("truth", truth))
    profiles = pl.read_parquet(tmp_path / "segment_profiles.parquet")
    spend = (
        orders.join(products, on="sku").join(segs, on="user_id")
        .group_by("segment_id", "category_l1").agg((pl.col("qty") * pl.col("unit_price")).sum().alias("s"))
        .with_columns(
            (pl.col("s") / pl.col("s").sum().over("segment_id")).alias("share"),
            (pl.col("s").sum().over("category_l1") / pl.col("s").sum()).alias("base"),
        )
    )
    for t in range(4):
        seg = segs.filter(pl.col("truth") == t)["segment_id"].mode().item()
        row = profiles.filter(pl.col("segment_id") == seg).row(0, named=True)
        assert row["top_categories"][0] == f"cat{t}" and row["top_brands"][0] == f"b{t}"
        lift = row["category_lifts"][0]
        expect = spend.filter((pl.col("segment_id") == seg) & (pl.col("category_l1") == f"cat{t}")).row(0, named=True)
        assert lift["spend_share"] == pytest.approx(expect["share"])
        assert lift["lift"] == pytest.approx(expect["share"] / expect["base"])
        assert lift["lift"] > 2.5
        assert f"cat{t}" in row["product_mix"]


def test_degenerate_inputs_get_clear_errors(tmp_path):
    def ws_with(labels: pl.DataFrame) -> Workspace:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        write_world(root, labels)
        return Workspace(root)

    one = pl.DataFrame({"user_id": ["u1"], "value_clv": [3.0], "demo_g": ["x"]})
    with pytest.raises(InvalidDataError, match=r"^labels.parquet has 1 user: at least 2 users with different features are needed to segment$"):
        run_segment(ws_with(one), k="auto")
    two = pl.DataFrame({"user_id": ["u1", "u2"], "value_clv": [3.0, 3.0], "value_n": [1, 1]})
    with pytest.raises(
        InvalidDataError,
        match=r"^labels.parquet: every feature is constant \(or missing\) over the 2 users \(value_clv, value_n\): there is nothing to segment them by$",
    ):
        run_segment(ws_with(two), k="auto")
    few = pl.DataFrame({"user_id": ["a", "b", "c"], "value_clv": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidDataError, match=r"^--k 4 asks for more segments than the 3 distinct user profile\(s\) in labels.parquet$"):
        run_segment(ws_with(few), k=4)
    with pytest.raises(InvalidDataError, match=r"^--k auto needs at least 15 distinct users for k ≥ 3; labels.parquet has 3: pass --k N with N ≤ 3$"):
        run_segment(ws_with(few), k="auto")
    # a sensible fallback: k = the number of distinct users works
    assert run_segment(ws_with(few), k=3, n_boot=1)["k"] == 3
    with pytest.raises(UsageError, match=r"^--k must be `auto` or an integer from 2 to 50, got 'many'$"):
        run_segment(ws_with(few), k="many")
    with pytest.raises(UsageError, match=r"^--method must be one of kmeans, gmm, got 'dbscan'$"):
        run_segment(ws_with(few), method="dbscan")
    with pytest.raises(MissingPrerequisiteError, match=r"^labels.parquet is not in workspace"):
        run_segment(Workspace(tmp_path / "empty"))


def test_pca_and_gmm_model_reassigns_identically(tmp_path):
    labels, tags, truth = planted_world(900, types=TYPES_EN, seed=6)
    write_world(tmp_path, labels, tags)
    summary = run_segment(Workspace(tmp_path), k=4, method="gmm", reduce="pca", n_boot=1)
    model = json.loads((tmp_path / "segment_model.json").read_text(encoding="utf-8"))
    reduction = model["reduction"]
    assert reduction["method"] == "pca"
    n_comp = len(reduction["components"])
    assert n_comp < len(model["features"]) and len(model["clustering"]["centers"][0]) == n_comp
    assert sum(reduction["explained_variance_ratio"]) >= 0.9
    segments = pl.read_parquet(tmp_path / "segments.parquet")
    assert adjusted_rand_score(truth, segments["segment_id"].to_numpy()) >= 0.8
    other = tmp_path / "other"
    other.mkdir()
    labels.write_parquet(other / "labels.parquet")
    tags.write_parquet(other / "tags.parquet")
    run_segment(Workspace(tmp_path), assign=other / "labels.parquet")
    assigned = pl.read_parquet(tmp_path / "segment_assignments.parquet")
    assert assigned["segment_id"].to_list() == segments["segment_id"].to_list()
    assert summary["k"] == 4


def test_scikit_learn_is_imported_in_the_background_while_the_step_reads_its_data() -> None:
    """``c2m_cli.segment`` imports without scikit-learn (≈2 s: SciPy, pandas); ``preload``
    imports what the fits need in a thread of its own, which run_segment starts first."""
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "import c2m_cli.segment as s\n"
        "assert not any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules), 'sklearn imported eagerly'\n"
        "t = s.cluster.preload()\n"
        "assert t.name == 'c2m-preload-sklearn' and t is not threading.main_thread()\n"
        "t.join()\n"
        "missing = [m for m in s.cluster.FIT_MODULES if m not in sys.modules]\n"
        "assert not missing, missing\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_run_segment_starts_the_preload_and_its_outputs_do_not_depend_on_it(tmp_path, monkeypatch):
    import threading

    from c2m_cli.segment import cluster

    labels, tags, _ = planted_world(1500, seed=3)
    started: list[threading.Thread] = []
    preload = cluster.preload
    monkeypatch.setattr(cluster, "preload", lambda: started.append(preload()) or started[-1])
    outputs = []
    for name in ("preloaded", "no-preload"):
        write_world(tmp_path / name, labels, tags)
        run_segment(Workspace(tmp_path / name), k="auto", k_max=6, n_boot=2, seed=7)
        outputs.append([(tmp_path / name / f).read_bytes() for f in ("segments.parquet", "segment_profiles.parquet", "segment_model.json")])
        monkeypatch.setattr(cluster, "preload", lambda: threading.Thread())  # the second run: no preload
    assert len(started) == 1 and started[0].name == "c2m-preload-sklearn"
    assert outputs[0] == outputs[1]


def test_preload_prints_nothing_on_a_failing_import_and_a_fork_waits_for_it(tmp_path, monkeypatch):
    """A module that fails to import is left to the import that needs it (no thread traceback);
    a fork made while the preload imports waits until it is done (no half-done import in the
    child)."""
    import os
    import sys
    import threading

    from c2m_cli.segment import cluster

    (tmp_path / "c2m_slow_module.py").write_text("import time\ntime.sleep(0.5)\n")
    (tmp_path / "c2m_broken_module.py").write_text("raise ValueError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[object] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    cluster.preload(("c2m_broken_module",)).join()
    assert seen == [] and "c2m_broken_module" not in sys.modules
    with pytest.raises(ValueError, match="broken on purpose"):  # raised where it is needed
        __import__("c2m_broken_module")

    thread = cluster.preload(("c2m_slow_module",))
    assert thread.is_alive()
    pid = os.fork()
    if pid == 0:
        os._exit(0 if "c2m_slow_module" in sys.modules else 1)
    assert not thread.is_alive()  # the fork waited
    assert os.waitpid(pid, 0)[1] == 0  # and the child has the whole module
    sys.modules.pop("c2m_slow_module", None)
