"""The ERP adapter registry: ACCORD_ERP and ``server.py --erp`` select an adapter by name;
an unknown name is refused at start, naming the variable or option and the known names."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from config.settings import SettingsError, load_settings
from sandbox.endpoints import Endpoints
from sources import erps
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.ports import StartableErp
from tests.adapters import make_erp
from tests.test_startup import refused


def test_netsuite_is_the_default_and_is_registered_by_its_module() -> None:
    assert erps.DEFAULT_ERP == "netsuite"
    assert "netsuite" in erps.names()
    chosen = erps.adapter("netsuite")
    assert (chosen.product, chosen.config_type) == ("NetSuite", NetSuiteConfig)
    assert load_settings({}).erp == "netsuite"
    assert load_settings({"ACCORD_ERP": "netsuite"}).erp == "netsuite"


def test_the_factory_builds_the_adapter_from_its_configuration(sandbox: Endpoints) -> None:
    config = make_erp(sandbox).client.config
    today = dt.date(2026, 12, 5)

    built = erps.adapter("netsuite").factory(config, erps.ErpContext(today=lambda: today))

    assert isinstance(built, NetSuiteErp)
    assert built.source == "netsuite"
    assert built.today() == today


def test_an_unknown_erp_in_the_environment_is_named_with_the_variable() -> None:
    with pytest.raises(SettingsError) as refusal:
        load_settings({"ACCORD_ERP": "abacus"})

    [problem] = refusal.value.problems
    assert problem.startswith("ACCORD_ERP: ")
    assert "'abacus'" in problem
    assert "netsuite" in problem  # the names it could have been


def test_an_unknown_erp_on_the_command_line_stops_the_start() -> None:
    started = refused("--erp", "abacus")

    assert started.returncode == 2
    assert "--erp: no ERP adapter is named 'abacus'" in started.stderr
    assert "netsuite" in started.stderr
    assert "Traceback" not in started.stderr


def test_another_adapter_registers_under_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an adapter that registers itself as an ERP adapter module would
    monkeypatch.setattr(erps, "_ADAPTERS", dict(erps._ADAPTERS))
    built: list[Any] = []

    def factory(config: Any, context: erps.ErpContext) -> StartableErp:
        built.append(config)
        return erps.adapter("netsuite").factory(config, context)

    other = erps.ErpAdapter("abacus", "Abacus", NetSuiteConfig, factory)
    erps.register(other)

    # then it is selectable, by the registry and by the settings
    assert erps.adapter("abacus") is other
    assert "abacus" in erps.names()
    assert load_settings({"ACCORD_ERP": "abacus"}).erp == "abacus"
    # and a second adapter of that name is refused, the same one again is not
    erps.register(other)
    with pytest.raises(ValueError, match="registered already"):
        erps.register(erps.ErpAdapter("abacus", "Other", NetSuiteConfig, factory))


def test_an_adapter_that_reads_its_own_variables_names_the_bad_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(erps, "_ADAPTERS", dict(erps._ADAPTERS))

    def configure(env: dict[str, str]) -> str:
        if not env.get("ACCORD_ABACUS_URL", "").startswith("https://"):
            raise ValueError("ACCORD_ABACUS_URL must be an https:// URL")
        return env["ACCORD_ABACUS_URL"]

    def factory(config: Any, context: erps.ErpContext) -> StartableErp:
        raise AssertionError("not built by the settings")

    erps.register(erps.ErpAdapter("abacus", "Abacus", str, factory, configure))  # type: ignore[arg-type]

    with pytest.raises(SettingsError) as refusal:
        load_settings({"ACCORD_ERP": "abacus", "ACCORD_ABACUS_URL": "ftp://x"})
    assert refusal.value.problems == ["ACCORD_ABACUS_URL must be an https:// URL"]
    settings = load_settings({"ACCORD_ERP": "abacus", "ACCORD_ABACUS_URL": "https://erp"})
    assert (settings.erp, settings.erp_config) == ("abacus", "https://erp")


def test_a_sandbox_running_another_erp_than_the_one_selected_is_refused_by_name(
    sandbox: Endpoints, tmp_path: Path
) -> None:
    # given the endpoints of a sandbox whose ERP is Tryton
    data = sandbox.to_json()
    data.pop("netsuite")
    data["sandbox"]["erp"] = "tryton"
    data["tryton"] = {
        "url": "http://127.0.0.1:9",
        "database": "accord",
        "user": "admin",
        "password": "admin",
        "ca_file": None,
        "version": "7.0",
        "backend": "sqlite",
        "prepared": "",
        "prepare_seconds": 0.0,
        "pid": 0,
        "work_dir": str(tmp_path),
    }
    endpoints_file = tmp_path / "sandbox.json"
    endpoints_file.write_text(json.dumps(data))

    # when Accord attaches to it with the default ERP selected
    started = refused("--sandbox", str(endpoints_file))

    # then it stops, saying which ERP the sandbox runs and how to match them
    assert started.returncode == 2
    assert "this sandbox runs tryton as its ERP, not NetSuite" in started.stderr
    assert "--erp netsuite" in started.stderr
    assert "Traceback" not in started.stderr
