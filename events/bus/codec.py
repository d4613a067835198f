"""How an event is written into the bus's log, and read back, tolerating what others wrote.

An entry holds one field, ``event``: the event's CloudEvents 1.0 structured JSON, in the
canonical spelling of `state.codec.encode`. Another tool may write anything into the stream,
so reading never trusts it: whatever does not decode to an `Event` is `MalformedEntry`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from events.model import Event
from state.codec import encode

__all__ = ["EVENT_FIELD", "MalformedEntry", "decode_entry", "decode_event", "encode_event"]

EVENT_FIELD = "event"

_SHOWN = 200
"""Characters of a malformed entry quoted in a log line or a dead letter's reason."""


class MalformedEntry(ValueError):
    """A log entry that is not an event this bus wrote."""


def encode_event(event: Event) -> str:
    """The entry text for `event`; ``TypeError``/``ValueError`` if its data is not JSON."""
    return encode(event.to_cloudevent())


def decode_event(text: str) -> Event:
    """The event an entry text spells; `MalformedEntry` when it spells none."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedEntry(f"not JSON ({exc}): {text[:_SHOWN]!r}") from exc
    if not isinstance(value, dict):
        raise MalformedEntry(f"not a JSON object: {text[:_SHOWN]!r}")
    customer = value.get("accordcustomer")
    if customer is not None and not isinstance(customer, str):
        raise MalformedEntry(f"accordcustomer is not a string: {text[:_SHOWN]!r}")
    try:
        return Event.from_cloudevent(value)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MalformedEntry(f"not a canonical event ({exc!r}): {text[:_SHOWN]!r}") from exc


def decode_entry(fields: Mapping[str, str] | None) -> Event:
    """The event a stream entry's fields hold; `MalformedEntry` when they hold none."""
    if not fields or EVENT_FIELD not in fields:
        shown = repr(dict(fields or {}))[:_SHOWN]
        raise MalformedEntry(f"no {EVENT_FIELD!r} field: {shown}")
    return decode_event(fields[EVENT_FIELD])
