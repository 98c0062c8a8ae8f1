"""The garbage collector is tuned while a service app runs, and restored after."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from asgi_lifespan import LifespanManager

from canteen.allinone import create_single
from shared.collector import tuned_collector
from shared.settings import CanteenSettings


def test_inside_startup_objects_are_frozen_and_young_collections_rarer() -> None:
    before = gc.get_threshold()
    with tuned_collector(12_345):
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_zero_keeps_pythons_threshold_but_still_freezes() -> None:
    before = gc.get_threshold()
    with tuned_collector(0):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_apps_sharing_a_process_restore_it_when_the_last_stops() -> None:
    before = gc.get_threshold()
    with tuned_collector(9_000):
        with tuned_collector(4_000):  # the second app keeps what the first set
            assert gc.get_threshold()[0] == 9_000
        assert gc.get_threshold()[0] == 9_000  # the first still runs
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_cycle_dropped_while_frozen_is_collected_after_the_last_stop() -> None:
    class Node:
        pass

    node = Node()
    node.self = node  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    alive = weakref.ref(node)
    with tuned_collector(10_000):
        del node
        gc.collect()
        assert alive() is not None  # frozen: no collection looks at it
    gc.collect()
    assert alive() is None


async def test_a_service_app_runs_tuned_and_restores_on_stop(tmp_path: Path) -> None:
    settings = CanteenSettings(  # type: ignore[call-arg]
        env="dev",
        backend="embedded",
        data_dir=tmp_path / "var",
        dev_signing_secret="collector-test-" + "s" * 32,
        cursor_secret="collector-test-" + "c" * 32,
        gc_young_threshold=7_777,
    )
    before = gc.get_threshold()
    async with LifespanManager(create_single(settings, "notify")):
        assert gc.get_threshold()[0] == 7_777
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
