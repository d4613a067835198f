"""``python -m cache``: print the table of cached entities and their TTLs (docs/caching.md)."""

from __future__ import annotations

from cache.entities import ttl_table


def main() -> None:
    print(ttl_table(), end="")


if __name__ == "__main__":
    main()
