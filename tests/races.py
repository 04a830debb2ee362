"""Reproduce a race between two requests deterministically: another connection commits a row
just before this request's first insert into the same table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, Table, event, insert


@contextmanager
def insert_first(engine: Engine, table: Table, values: dict) -> Iterator[list[bool]]:
    """While the block runs, the first ``INSERT INTO <table>`` waits for another connection to
    insert and commit ``values`` (the other request winning the race). Yields a list that holds
    ``True`` once the other request has gone first."""
    raced: list[bool] = []
    prefix = f"INSERT INTO {table.name.upper()} "

    def other_request_first(conn, cursor, statement, *_):  # noqa: ANN001
        if not raced and statement.lstrip().upper().startswith(prefix):
            raced.append(True)
            with engine.connect() as other:
                other.execute(insert(table).values(**values))
                other.commit()

    event.listen(engine, "before_cursor_execute", other_request_first)
    try:
        yield raced
    finally:
        event.remove(engine, "before_cursor_execute", other_request_first)
