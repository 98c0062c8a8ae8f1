"""The layering rules hold, and the lint that enforces them really fails on a violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def run_lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd)},
        check=False,
    )


def test_the_repository_keeps_its_contracts() -> None:
    result = run_lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def copy_tree(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("services", "shared", "canteen"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_a_service_importing_another_service_fails_the_lint(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    (repo / "services" / "notify" / "shortcut.py").write_text(
        "from services.activity.posts.repository import PostRepository  # noqa\n"
    )
    result = run_lint(repo)
    assert result.returncode != 0
    assert "Services never import each other" in result.stdout


def test_shared_importing_a_service_fails_the_lint(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    (repo / "shared" / "leak.py").write_text("import services.search.handlers  # noqa\n")
    result = run_lint(repo)
    assert result.returncode != 0
    assert "shared never imports a service" in result.stdout


def test_dedupe_windows_outlast_what_a_crash_redelivers() -> None:
    # Per-event handlers apply a delta once per event id among the last APPLIED_CAP ids a
    # document keeps; a crash redelivers at most PER_EVENT_WINDOW handled events.
    from services.activity.discussion import counters
    from services.activity.groups import repository as groups
    from services.activity.social import repository as social
    from services.notify.email import projections
    from shared.bus.port import PER_EVENT_WINDOW

    caps = {
        "discussion": counters.APPLIED_CAP,
        "groups": groups.APPLIED_CAP,
        "social": social.APPLIED_CAP,
        "notify.email": projections.APPLIED_CAP,
    }
    assert {k: cap for k, cap in caps.items() if cap < 2 * PER_EVENT_WINDOW} == {}


def test_batch_dedupe_windows_outlast_a_batch() -> None:
    # Batch consumers deduplicate the same way, and a crash (or a failed batch replayed event
    # by event) redelivers at most one batch: MAX_BATCH, which their subscriptions keep.
    # The inbox takes larger batches but counts them in chunks of at most CLAIM_CHUNK per
    # recipient, after finding what is stored (tests/notify/test_inbox_batch.py); its ids
    # kept leave room for other writers' claims between a crash and the redelivery.
    from services.notify.email import projections
    from services.notify.inbox import repository as inbox
    from shared.bus.port import MAX_BATCH

    assert projections.APPLIED_CAP > MAX_BATCH
    assert inbox.APPLIED_CAP >= 4 * inbox.CLAIM_CHUNK
