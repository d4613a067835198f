"""The ``accord`` command (``python -m accord``) and the container recipe."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from schema.__main__ import SDL_FILE

ROOT = Path(__file__).resolve().parent.parent


def accord(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_command_it_prints_its_usage_and_fails() -> None:
    done = accord()
    assert done.returncode == 2
    for command in ("serve", "sandbox", "reconcile", "schema"):
        assert f"accord {command}" in done.stdout


def test_help_lists_the_commands() -> None:
    done = accord("--help")
    assert done.returncode == 0
    assert "accord serve" in done.stdout


def test_an_unknown_command_is_refused_in_one_line() -> None:
    done = accord("deploy")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "accord: unknown command 'deploy' (commands: serve, sandbox, reconcile, schema)"
    )


def test_schema_prints_the_committed_sdl() -> None:
    done = accord("schema")
    assert done.returncode == 0, done.stderr
    assert done.stdout == SDL_FILE.read_text()


@pytest.mark.parametrize("command", ["serve", "sandbox", "reconcile", "schema"])
def test_each_command_takes_the_options_of_what_it_runs(command: str) -> None:
    done = accord(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_sandbox_refuses_a_bad_start_instant_as_python_m_sandbox_does() -> None:
    done = accord("sandbox", "--now", "soon")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_container_runs_as_a_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    assert re.search(r"^USER (?!root\b)\S+", final_stage, re.MULTILINE)
    assert "HEALTHCHECK" in final_stage
    assert "/healthz" in final_stage
    assert 'ENTRYPOINT ["accord"]' in final_stage
    assert final_stage.startswith("python:3.11-slim")
