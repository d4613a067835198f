"""Each mutation's error codes: declared once, complete, described, and enforced.

A mutation declares the codes it answers with (``CODES`` in its module); the schema makes its
error-code enum from that declaration. These tests read the code a mutation can reach (its
entry point, and every function, class and policy of the write path it refers to, however
deep) and check that each `ErrorCode` it names is declared, so a new refusal cannot ship
without its enum value; and that a payload given an undeclared code fails loudly.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Iterable
from types import FunctionType, ModuleType
from typing import Any

import pytest

from mutations import (
    book_order,
    link_account,
    mirror_credit_status,
    record_payment,
    run_reconciliation,
    set_credit_hold,
    update_customer,
    workflow_actions,
)
from mutations.booking_steps import BOOK_ORDER_STEPS
from mutations.errors import COMMON, DESCRIPTIONS, ErrorCode, Problem
from mutations.policies import Policy
from schema.mutations.common import UndeclaredCode, error_types, errors_of

# Each mutation's logic: its module and where its code starts. The booking's steps run in the
# workflow engine, which server.py gives them to; they are where bookOrder and the workflow
# actions (which run the steps again) find most of their refusals.
MUTATIONS: dict[str, tuple[ModuleType, tuple[Any, ...]]] = {
    "updateCustomer": (update_customer, (update_customer.update_customer,)),
    "setCreditHold": (set_credit_hold, (set_credit_hold.set_credit_hold,)),
    "recordPayment": (record_payment, (record_payment.record_payment,)),
    "bookOrder": (book_order, (book_order.book_order, BOOK_ORDER_STEPS)),
    "workflowActions": (
        workflow_actions,
        (workflow_actions.act_on_workflow, BOOK_ORDER_STEPS),
    ),
    "runReconciliation": (run_reconciliation, (run_reconciliation.run_reconciliation,)),
    "linkAccount": (link_account, (link_account.link_account,)),
    "mirrorCreditStatus": (mirror_credit_status, (mirror_credit_status.mirror_credit_status,)),
}


def _in_write_path(value: Any) -> bool:
    module = getattr(value, "__module__", "") or ""
    return module.startswith("mutations.") and module != "mutations.errors"


def _written_here(function: FunctionType) -> bool:
    """Whether a function is in its module's source (not generated, like a dataclass's)."""
    return function.__code__.co_filename == sys.modules[function.__module__].__file__


def _functions_of(value: Any) -> Iterable[FunctionType]:
    """The functions a name of the write path stands for."""
    if isinstance(value, FunctionType) and _in_write_path(value):
        yield value
    elif isinstance(value, type) and _in_write_path(value):
        for member in vars(value).values():
            member = getattr(member, "__func__", member)
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, FunctionType):
                yield member
    elif isinstance(value, Policy):
        yield from _functions_of(value.check)
    elif isinstance(value, (list, tuple, dict)):  # a table of policies, checks or steps
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, (Policy, FunctionType)):
                yield from _functions_of(item)
            elif _in_write_path(type(item)):
                yield from _functions_of(type(item))


def reachable_codes(*entries: Any) -> dict[ErrorCode, str]:
    """Every `ErrorCode` named in the code the entries can reach, with where it is named."""
    found: dict[ErrorCode, str] = {}
    seen: set[FunctionType] = set()
    queue = [function for entry in entries for function in _functions_of(entry)]
    while queue:
        function = queue.pop()
        if function in seen or not _written_here(function):
            continue
        seen.add(function)
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        where = f"{function.__module__}.{function.__qualname__}"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ErrorCode"
            ):
                found.setdefault(ErrorCode[node.attr], where)
            elif isinstance(node, ast.Name) and node.id in function.__globals__:
                queue.extend(_functions_of(function.__globals__[node.id]))
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and isinstance(function.__globals__.get(node.value.id), ModuleType)
            ):
                module = function.__globals__[node.value.id]
                queue.extend(_functions_of(getattr(module, node.attr, None)))
    return found


@pytest.mark.parametrize("name", MUTATIONS)
def test_every_code_a_mutation_can_answer_with_is_declared(name: str) -> None:
    module, entries = MUTATIONS[name]
    reached = reachable_codes(*entries)
    undeclared = {code: where for code, where in reached.items() if code not in module.CODES}
    assert undeclared == {}, f"{name} can answer with codes it does not declare"


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_declaration_holds_the_common_codes_each_once(name: str) -> None:
    declared = MUTATIONS[name][0].CODES
    assert len(set(declared)) == len(declared)
    assert set(COMMON) <= set(declared)


def test_the_walk_finds_codes_in_shared_helpers_and_policies() -> None:
    # the reach is what makes the check above mean anything: codes raised two calls away
    reached = reachable_codes(record_payment.record_payment)
    assert ErrorCode.INVOICE_NOT_OPEN in reached  # a payment policy
    assert ErrorCode.IDEMPOTENCY_KEY_REUSED in reached  # the idempotent runner
    assert reachable_codes(update_customer.update_customer).keys() >= {
        ErrorCode.UNKNOWN_PAYMENT_TERMS,  # a field check
        ErrorCode.CUSTOMER_NOT_FOUND,
    }
    assert ErrorCode.TAX_ID_INVALID in reachable_codes(*MUTATIONS["bookOrder"][1])


def test_every_code_has_a_description() -> None:
    assert set(DESCRIPTIONS) == set(ErrorCode)
    assert all(text.strip() for text in DESCRIPTIONS.values())


def test_a_problem_with_an_undeclared_code_fails_loudly_instead_of_turning_into_another() -> None:
    code_enum, error_type = error_types("Probe", (ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND))
    ok = errors_of(error_type, code_enum, [Problem(ErrorCode.NOT_FOUND, "gone", "id")])
    assert [(e.code.name, e.message, e.field) for e in ok] == [("NOT_FOUND", "gone", "id")]

    with pytest.raises(UndeclaredCode, match="TAX_ID_INVALID"):
        errors_of(error_type, code_enum, [Problem(ErrorCode.TAX_ID_INVALID, "bad", "taxId")])
