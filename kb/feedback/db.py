"""The database: engine and sessions from KB_DATABASE_URL, schema version checks.

SQLite by default (in the instance folder, WAL mode so readers never wait for
the writer); PostgreSQL by URL. The schema belongs to Alembic: ``kb db upgrade``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class SchemaOutdatedError(RuntimeError):
    """The database is behind the code's migrations."""


def make_engine(url: str, statement_timeout: float = 0) -> Engine:
    """``statement_timeout``: seconds any one statement may run on PostgreSQL (0: no limit)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args=_pg_connect_args(url, statement_timeout))


def _pg_connect_args(url: str, statement_timeout: float) -> dict[str, str]:
    """A server-side statement timeout, so a stuck query frees its worker thread and connection.

    Added to any ``options`` the URL already has (a ``search_path``, say): connect_args would
    replace them otherwise.
    """
    if statement_timeout <= 0 or not url.startswith("postgresql"):
        return {}
    options = make_url(url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    return {"options": f"{options} -c statement_timeout={int(statement_timeout * 1000)}".strip()}


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaOutdatedError(
            f"the database at {where} is at schema {current or 'none'}, the code needs {head}: run `kb db upgrade`"
        )


class Database:
    def __init__(self, url: str, statement_timeout: float = 0) -> None:
        self.url = url
        self.engine = make_engine(url, statement_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions() as s, s.begin():
            yield s

    def upsert(self, work: Callable[[Session], T], attempts: int = 3) -> T:
        """``work`` in one transaction, run again when a concurrent transaction inserted the
        row it was about to insert (a unique constraint refused it): the next run finds that
        row and updates it, so the request neither fails nor loses what it carried."""
        for attempt in range(attempts):
            try:
                with self.session() as s:
                    return work(s)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")
