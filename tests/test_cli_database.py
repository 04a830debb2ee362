"""kb db upgrade: a clear message, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from kb.cli import main


def test_db_upgrade_names_a_missing_directory_without_a_traceback(tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'kb.sqlite3'}"
    result = CliRunner(env={"KB_DATABASE_URL": url}).invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "cannot open the database" in result.output and str(tmp_path / "no") in result.output
    assert "Traceback" not in result.output
