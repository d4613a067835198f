"""``accord reconcile`` (``python -m accord reconcile``): one run from the command line, as a
cron job would start it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from sandbox.endpoints import Endpoints
from sandbox.world import World

ROOT = Path(__file__).resolve().parent.parent.parent


def accord(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    return subprocess.run(
        [sys.executable, "-m", "accord", "reconcile", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


def test_it_prints_the_seeded_drift_as_json(
    pristine: Endpoints, pristine_world: World, tmp_path: Path
) -> None:
    # given the endpoints file of a sandbox as seeded
    endpoints = tmp_path / "endpoints.json"
    pristine.write(endpoints)

    # when it runs there, asking for JSON
    done = accord("--sandbox", str(endpoints), "--json")

    # then it prints the report with the world's drift, and succeeds
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["trigger"] == "command line"
    found: dict[str, list[str]] = defaultdict(list)
    for drift in report["drifts"]:
        found[drift["kind"]].append(drift["subject"])
    assert {kind: sorted(found[kind]) for kind in pristine_world.drift()} == pristine_world.drift()


def test_on_its_own_it_compares_a_sandbox_it_starts_and_can_fail_on_drift(
    pristine_world: World,
) -> None:
    done = accord("--kind", "LINK_BROKEN", "--fail-on-drift")

    assert done.returncode == 1, done.stderr
    broken = pristine_world.drift()["LINK_BROKEN"]
    assert f"{len(broken)} drifts:" in done.stdout
    for account in broken:
        assert f"LINK_BROKEN {account}" in done.stdout
    assert "fix (REPAIR_LINK)" in done.stdout
    assert "ORDER_MISSING" not in done.stdout


def test_a_system_it_cannot_reach_fails_with_one_line(pristine: Endpoints, tmp_path: Path) -> None:
    # given endpoints whose ERP listens nowhere
    gone = dataclasses.replace(
        pristine,
        erp=dataclasses.replace(
            pristine.netsuite,
            base_url="https://127.0.0.1:9",
            token_url="https://127.0.0.1:9/services/rest/auth/oauth2/v1/token",
        ),
    )
    endpoints = tmp_path / "endpoints.json"
    gone.write(endpoints)

    done = accord("--sandbox", str(endpoints), ACCORD_SOURCE_TIMEOUT="2")

    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("accord reconcile: netsuite")


def test_a_kind_it_does_not_know_is_bad_usage() -> None:
    done = accord("--kind", "TYPO")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
