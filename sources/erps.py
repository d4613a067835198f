"""The ERP adapters Accord can run with, by name: ``ACCORD_ERP`` or ``python server.py --erp``.

Each adapter registers one `ErpAdapter` (its name, the product it fills the port with, and a
factory from its configuration to a `sources.ports.ErpPort` not yet started), when its module is
imported. `ADAPTER_MODULES` lists the modules that register one: adding an ERP is writing the
adapter, calling `register` at the bottom of its module and naming the module here. A module
that is not installed is skipped, so the list may name adapters a build leaves out.

The name is also the adapter's ``source``: how events, snapshots, watermarks and the audit
trail name the system. An adapter module joins like this (at its end)::

    def _build(config: TrytonConfig, context: erps.ErpContext) -> TrytonErp:
        return TrytonErp(config, today=context.today)

    erps.register(erps.ErpAdapter("tryton", "Tryton", TrytonConfig, _build, configure=read_env))

where ``read_env(env)`` builds its configuration from its ``ACCORD_TRYTON_*`` variables (None
when there are none) and raises `ValueError` naming the variable that is missing or wrong.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sources.concurrency import ConcurrencyBudget
from sources.netsuite_http import SOURCE as DEFAULT_ERP
from sources.ports import StartableErp
from sources.resilience import ResiliencePolicy

__all__ = [
    "ADAPTER_MODULES",
    "DEFAULT_ERP",
    "ErpAdapter",
    "ErpContext",
    "UnknownErp",
    "adapter",
    "names",
    "register",
]

ADAPTER_MODULES: tuple[str, ...] = ("sources.netsuite", "sources.tryton.adapter")
"""Modules that register an ERP adapter when imported."""


@dataclass(frozen=True)
class ErpContext:
    """What the composition root gives every ERP adapter besides its own configuration."""

    today: Callable[[], dt.date] | None = None  # the date reads and writes agree on
    budget: ConcurrencyBudget | None = None  # the system's concurrency limit, when it has one


@dataclass(frozen=True)
class ErpAdapter:
    """One ERP adapter as the registry knows it.

    ``name`` selects it (and is its ``source``); ``product`` is how messages and docs name the
    system; ``factory`` builds the adapter from ``config`` (an instance of ``config_type``,
    e.g. `sources.netsuite_http.NetSuiteConfig`) and the shared `ErpContext`;
    ``configure`` reads that configuration from the ``ACCORD_*`` environment (None when none
    of its variables is set: the sandbox provides it; a `ValueError` naming the bad variable
    when it cannot), itself None when `config.settings` reads it;
    ``from_sandbox`` builds it from a sandbox's endpoints (`sandbox.endpoints.Endpoints`, whose
    ``sandbox.erp`` is this name) and the resilience policy, None when the composition root
    knows how (NetSuite's emulator).
    """

    name: str
    product: str
    config_type: type
    factory: Callable[[Any, ErpContext], StartableErp]
    configure: Callable[[Mapping[str, str]], Any] | None = None
    from_sandbox: Callable[[Any, ResiliencePolicy], Any] | None = None


class UnknownErp(ValueError):
    """No ERP adapter has the name asked for."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no ERP adapter is named {name!r}; known: {', '.join(known)}")


_ADAPTERS: dict[str, ErpAdapter] = {}
_loaded = False


def register(adapter: ErpAdapter) -> None:
    """Make ``adapter`` selectable by its name (a second adapter of one name is refused)."""
    held = _ADAPTERS.get(adapter.name)
    if held is not None and held != adapter:
        raise ValueError(f"an ERP adapter named {adapter.name!r} is registered already")
    _ADAPTERS[adapter.name] = adapter


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for module in ADAPTER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise  # the module is there but needs something missing: a real error
    _loaded = True


def names() -> list[str]:
    """The names of the ERP adapters there are, sorted."""
    _load()
    return sorted(_ADAPTERS)


def adapter(name: str) -> ErpAdapter:
    """The adapter named ``name``; `UnknownErp` naming the known ones when there is none."""
    _load()
    found = _ADAPTERS.get(name)
    if found is None:
        raise UnknownErp(name, names())
    return found
