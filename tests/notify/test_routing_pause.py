"""The polling workers' pause between rounds (services/notify/routing.py)."""

from __future__ import annotations

from services.notify.routing import IdlePause


def test_an_idle_worker_backs_off_and_wakes_up_at_once_when_work_appears() -> None:
    pause = IdlePause(first=0.25, longest=2.0)

    assert [pause.after(found=False) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert pause.after(found=True, more=True) == 0.0  # a full batch: straight on
    assert pause.after(found=True) == 0.25  # some work, none left: the short pause again
    assert pause.after(found=False) == 0.5
