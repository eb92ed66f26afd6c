"""Executors give identical, ordered results: serial, a process pool, a real Dask cluster."""

from __future__ import annotations

import pytest

from c2m_cli.errors import UsageError
from c2m_cli.executor import LocalExecutor, get_executor, shared_array


def _work(item: tuple[int, float]) -> float:
    seed, scale = item
    import numpy as np

    return float(np.random.default_rng(seed).normal(size=1000).sum() * scale)


ITEMS = [(i, 1.0 + i / 10) for i in range(12)]


def test_pool_and_serial_agree():
    executor = LocalExecutor(processes=2)
    assert executor.map(_work, ITEMS, parallel=True) == executor.map(_work, ITEMS, parallel=False)


_SHARED = {}


def _fill_row(i: int) -> int:
    import os

    _SHARED["out"][i] = i + 0.5  # written in a forked worker
    return os.getpid()


@pytest.mark.parametrize("in_file", [False, True], ids=["anonymous", "file"])
def test_a_forked_workers_writes_into_a_shared_array_are_seen_by_the_parent(tmp_path, in_file):
    import os

    import numpy as np

    path = tmp_path / "out.f64" if in_file else None
    _SHARED["out"] = shared_array((8, 3), path)
    try:
        assert _SHARED["out"].shape == (8, 3) and not _SHARED["out"].any()  # zeros until written
        pids = LocalExecutor(processes=2).map(_fill_row, list(range(8)), parallel=True)
        assert os.getpid() not in pids  # really written by other processes
        want = np.repeat(np.arange(8) + 0.5, 3).reshape(8, 3)
        np.testing.assert_array_equal(_SHARED["out"], want)
        if in_file:  # the file holds what the workers wrote
            np.testing.assert_array_equal(np.fromfile(path).reshape(8, 3), want)
    finally:
        _SHARED.clear()


def test_a_file_backed_shared_array_is_mapped_again_read_only_and_nothing_else_is(tmp_path):
    import numpy as np

    from c2m_cli.executor import remap_readonly

    values = shared_array((5, 4, 2), tmp_path / "a.f64")
    values[...] = np.arange(40.0).reshape(5, 4, 2)
    again = remap_readonly(values)
    assert again is not None and not again.flags.writeable
    np.testing.assert_array_equal(again, np.arange(40.0).reshape(5, 4, 2))
    values[0, 0, 0] = -1.0  # one file: the read-only map sees a later write
    assert again[0, 0, 0] == -1.0
    assert remap_readonly(values[1:]) is None  # a part of the file is not the file
    assert remap_readonly(np.zeros((5, 4, 2))) is None
    assert remap_readonly(shared_array((5, 4, 2))) is None  # anonymous memory has no file
    with pytest.raises(FileExistsError):  # never another array's file
        shared_array((2,), tmp_path / "a.f64")


def test_dask_local_cluster_agrees_with_local():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        executor = get_executor(address)
        try:
            assert executor.map(_work, ITEMS) == LocalExecutor().map(_work, ITEMS)
        finally:
            executor.close()


def test_unknown_executor_is_a_usage_error():
    with pytest.raises(UsageError, match="dask://HOST:PORT"):
        get_executor("ray://x")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_dask_address_is_exit_2_in_one_line(tmp_path, c2m):
    import time

    port = _free_port()
    started = time.perf_counter()
    result = c2m("label", tmp_path / "ws", "--executor", f"dask://127.0.0.1:{port}")
    assert time.perf_counter() - started < 15
    assert result.exit_code == 2
    assert f"cannot reach a Dask scheduler at 127.0.0.1:{port}: Connection refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("spec", ["dask://nohostport", "dask://host:notaport", "dask://:8786", "dask://h:70000"])
def test_malformed_dask_address_is_a_usage_error(spec):
    from c2m_cli.executor import check_reachable

    with pytest.raises(UsageError, match="dask://HOST:PORT"):
        check_reachable(spec)
