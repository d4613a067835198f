"""The benchmark suite's frame: what a scenario gets (`Bench`) and what it gives back (`Outcome`).

A scenario is a function ``run(bench) -> Outcome``. `Bench` starts what scenarios share
lazily and stops it at the end: the sandbox (one per world size) and its control API.
An `Outcome` holds the scenario's figures, each a value measured against a baseline of the
same run with its target, the errors seen (never dropped), the details behind the figures,
and the one line printed for it. A scenario that cannot measure yet (a part of Accord it
needs is not there) says so with ``available=False`` and the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.harness import Control
from bench.upstream import Upstream
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess

# Accord's environment with its read cache off, for the scenarios that measure upstream plans.
UNCACHED_ENV: dict[str, str] = {"ACCORD_CACHE": "off"}


@dataclass(frozen=True)
class Figure:
    """One measured figure: ``value`` in ``unit``, against ``baseline``, with its target."""

    value: float
    unit: str  # "ratio", "ms", ...
    baseline: str  # what the value is measured against
    target: str | None = None  # e.g. "<= 1.15"; None: reported, no target
    met: bool | None = None

    def json(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 4),
            "unit": self.unit,
            "baseline": self.baseline,
            "target": self.target,
            "met": self.met,
        }


@dataclass(frozen=True)
class Spread:
    """A figure measured in several runs of the same scenario: the median, and the lowest and
    highest run, so that a reader sees how far one run is from the next."""

    values: tuple[float, ...]
    noise: tuple[float, ...] = ()  # runs set aside as physically impossible, and repeated
    suspect: bool = False  # the repeats ran out: some kept runs are impossible too

    @classmethod
    def of(
        cls, values: list[float], noise: list[float] | None = None, *, suspect: bool = False
    ) -> Spread:
        if not values:
            raise ValueError("no runs to summarise")
        return cls(tuple(values), tuple(noise or ()), suspect)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def text(self, digits: int = 2, unit: str = "") -> str:
        """``1.62 (1.55-1.70 over 3 runs)``, and ``; 1 noisy run (0.91) repeated`` when runs
        were set aside."""
        noisy = ""
        if self.noise:
            shown = ", ".join(f"{value:.{digits}f}" for value in self.noise)
            plural = "s" if len(self.noise) > 1 else ""
            noisy = f"; {len(self.noise)} noisy run{plural} ({shown}) repeated"
        if self.suspect:
            noisy += "; NOISE: still impossible after the repeats, not a measurement"
        return (
            f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}-{self.high:.{digits}f}"
            f"{unit} over {len(self.values)} runs{noisy})"
        )

    def json(self) -> dict[str, Any]:
        return {
            "median": round(self.median, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "runs": [round(value, 4) for value in self.values],
            "noise": [round(value, 4) for value in self.noise],
            "suspect": self.suspect,
        }


T = TypeVar("T")


def repeated(
    measure: Callable[[], T],
    *,
    runs: int,
    plausible: Callable[[T], bool],
    extra: int | None = None,
) -> tuple[list[T], list[T]]:
    """``runs`` results of ``measure`` that are physically possible, and those that were not.

    A run whose figure cannot be true of the system measured (added latency below the
    critical path, Accord faster than the upstream calls it makes, two workers more than
    twice one) says that something else on the machine moved the clock: it is kept aside as
    noise and the run repeated, at most ``extra`` times (default: ``runs``). When the
    repeats run out, further impossible runs are kept (a figure is still shown); the caller
    marks its `Spread` ``suspect`` then."""
    kept: list[T] = []
    noise: list[T] = []
    budget = runs if extra is None else extra
    while len(kept) < runs:
        result = measure()
        if plausible(result):
            kept.append(result)
        elif len(noise) < budget:
            noise.append(result)
        else:
            kept.append(result)
    return kept, noise


def at_most(value: float, limit: float) -> tuple[str, bool]:
    return f"<= {limit:g}", value <= limit


def at_least(value: float, limit: float) -> tuple[str, bool]:
    return f">= {limit:g}", value >= limit


def figure(value: float, unit: str, baseline: str, check: tuple[str, bool] | None = None) -> Figure:
    if check is None:
        return Figure(value, unit, baseline)
    return Figure(value, unit, baseline, check[0], check[1])


@dataclass
class Outcome:
    scenario: str
    line: str
    figures: dict[str, Figure] = field(default_factory=dict)
    errors: int = 0
    available: bool = True
    reason: str | None = None  # why not available, or why the run failed
    failed: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def json(self, quick: bool) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "available": self.available,
            "failed": self.failed,
            "reason": self.reason,
            "errors": self.errors,
            "figures": {name: value.json() for name, value in self.figures.items()},
            "line": self.line,
            "quick": quick,
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "details": self.details,
        }


@dataclass
class Sandbox:
    endpoints: Endpoints
    endpoints_file: Path
    control: Control
    upstream: Upstream


class Bench:
    """What the scenarios of one run share; use as a context manager."""

    def __init__(self, *, quick: bool) -> None:
        self.quick = quick
        self._stack = contextlib.ExitStack()
        self._sandboxes: dict[int, Sandbox] = {}

    def pick(self, full: float, quick: float) -> float:
        """A duration or a count: ``quick`` in the quick mode, else ``full``."""
        return quick if self.quick else full

    def sandbox(self, customers: int = 300) -> Sandbox:
        """A running sandbox of ``customers`` customers (seed 42), started on first use."""
        if customers not in self._sandboxes:
            process = SandboxProcess(seed=42, customers=customers)
            endpoints = process.start()
            self._stack.callback(process.stop)
            control = Control(endpoints)
            self._stack.callback(control.close)
            upstream = Upstream(endpoints)
            self._stack.callback(upstream.close)
            self._sandboxes[customers] = Sandbox(
                endpoints, process.endpoints_file, control, upstream
            )
        return self._sandboxes[customers]

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


Scenario = Callable[[Bench], Outcome]


def machine() -> dict[str, Any]:
    """The facts of this machine that the figures depend on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def ms(seconds: float) -> float:
    return seconds * 1000.0
