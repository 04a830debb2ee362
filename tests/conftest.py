"""Shared fixtures: a bundled-articles app, tiny article trees, the shared corpora."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config

SHARED = PROJECT_ROOT.parent / "shared"
CORPORA = SHARED / "corpora"


def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database in tmp_path."""
    url = f"sqlite:///{tmp_path / 'kb-test.sqlite3'}"
    migrate(url)
    return url


@functools.cache
def _migrated_sqlite() -> Path:
    """One SQLite database migrated to head by Alembic, for this test process to copy."""
    from kb.feedback.db import upgrade

    path = Path(tempfile.mkdtemp(prefix="kb-migrated-")) / "kb.sqlite3"
    atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
    upgrade(f"sqlite:///{path}")
    return path


def migrate(url: str) -> None:
    """``kb db upgrade`` on ``url``; a SQLite database that does not exist yet becomes a copy of one
    migrated once per process instead: the same file, without the second it takes here to run the
    migrations again (each one commits, and every commit waits for the disk)."""
    from kb.feedback.db import upgrade

    path = Path(url.removeprefix("sqlite:///"))
    if url.startswith("sqlite:///") and not path.exists():
        shutil.copyfile(_migrated_sqlite(), path)
        return
    upgrade(url)


@pytest.fixture
def bundled_config(tmp_path: Path) -> Config:
    return Config(articles_dir=PROJECT_ROOT / "articles", index_dir=tmp_path / "index", secret_key="test",
                  reload_seconds=0, database_url=sqlite_url(tmp_path))


@pytest.fixture
def app(bundled_config: Config):
    app = create_app(KB(bundled_config))
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under root (text is dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_articles(tmp_path: Path):
    def make(files: dict[str, str]) -> Path:
        return write_tree(tmp_path / "articles", files)

    return make


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the shared corpora live beside the repository in ../shared")
    return path


def require_browser() -> str:
    """Path of Chromium, or skip (fail when KB_REQUIRE_BROWSER is set, as in CI)."""
    exe = "/usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("KB_REQUIRE_BROWSER"):
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    if not Path(exe).exists():
        if os.environ.get("KB_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing at /usr/bin/chromium (apt-get install -y chromium)")
        pytest.skip("Chromium is missing at /usr/bin/chromium (apt-get install -y chromium)")
    return exe


@pytest.fixture(scope="session")
def models():
    """The test session's embedding models, loaded once (as one process would)."""
    from search.embedders import EmbedderPool

    return EmbedderPool()


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory, models) -> Path:
    """The bundled articles indexed once per test session, with the default models."""
    from kb import indexing

    index_dir = tmp_path_factory.mktemp("bundled-index")
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=index_dir)
    indexing.build(cfg, models)
    return index_dir


def seed_vector_cache(index_dir: Path, bundled_index: Path) -> None:
    """Start the vector cache of a new index at ``index_dir`` as a copy of the bundled index's.

    For tests whose `kb index` or `kb serve` builds the bundled articles again in a subprocess: the
    build still reads, chunks and writes everything, and loads its models, but takes the vectors this
    session already computed from the cache (the product's own path for rebuilds) instead of half a
    minute of embedding the same texts again.
    """
    import sqlite3

    from search.layout import IndexLayout

    target = IndexLayout(index_dir).vector_cache
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(IndexLayout(bundled_index).vector_cache), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture
def search_app(bundled_index, tmp_path, models):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", reload_seconds=0,
                 database_url=sqlite_url(tmp_path))
    app = create_app(KB(cfg, models=models))
    app.testing = True
    return app


@pytest.fixture(scope="session")
def use_embedder():
    """Multilingual USE alone: real, and fast enough for many small builds."""
    from search.embedders import USEEmbedder

    return USEEmbedder()


def _postgres_url() -> str | None:
    """A fresh schema in the local PostgreSQL, or None when it is not reachable."""
    import uuid

    try:
        import psycopg
    except ImportError:
        return None
    base = os.environ.get("KB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        with psycopg.connect(base, connect_timeout=3, autocommit=True) as conn:
            schema = f"kb_test_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception:
        return None
    return base.replace("postgresql://", "postgresql+psycopg://") + f"?options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL for a fresh schema in the local PostgreSQL, dropped afterwards; skips (fails in CI) when unreachable."""
    url = _postgres_url()
    if url is None:
        if os.environ.get("KB_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 (database test); CI requires it")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: these tests ran on SQLite only")
    try:
        yield url
    finally:
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(os.environ.get("KB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
                             autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def serve_in_thread(app, **kw) -> Iterator[str]:
    """``app`` on a free loopback port in a thread of this process (for the browser tests); yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Every database test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.sqlite3'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def db(database_url):
    from kb.feedback.db import Database

    migrate(database_url)
    database = Database(database_url)
    yield database
    database.engine.dispose()
