"""Test support: Accord's source adapters wired to the session's sandbox.

`make_crm` and `make_erp` build unstarted adapters, with a resilience policy fast enough to
keep fault tests short (or one of the test's own); the ``crm`` and ``erp`` fixtures of
``tests/conftest.py`` are started ones.
"""

from __future__ import annotations

from sandbox.endpoints import Endpoints
from server import configs_from_endpoints
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceCrm

# Fast enough to keep fault tests short, generous enough for a loaded CI machine.
TEST_POLICY = ResiliencePolicy(
    timeout=5.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_max=0.05,
    failure_threshold=5,
    recovery_time=0.5,
)


def make_crm(sandbox: Endpoints, policy: ResiliencePolicy = TEST_POLICY) -> SalesforceCrm:
    config, _ = configs_from_endpoints(sandbox, policy)
    return SalesforceCrm(config)


def make_erp(sandbox: Endpoints, policy: ResiliencePolicy = TEST_POLICY) -> NetSuiteErp:
    _, config = configs_from_endpoints(sandbox, policy)
    assert isinstance(config, NetSuiteConfig), "a NetSuite sandbox"
    return NetSuiteErp(config)  # "today" is NetSuite's, from the Date of its answers
