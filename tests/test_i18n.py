"""Every UI string is translated into Japanese, Korean and Chinese."""

from __future__ import annotations

import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from kb.config import PROJECT_ROOT

TRANSLATIONS = PROJECT_ROOT / "kb" / "translations"


def extracted_msgids(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"),
         "--ignore-dirs=.* _* .venv articles tests benchmarks", "-o", str(pot), str(PROJECT_ROOT)],
        check=True, cwd=PROJECT_ROOT, capture_output=True,
    )
    with pot.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", ["ja", "ko", "zh"])
def test_catalog_is_complete(lang, tmp_path):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    translated = {}
    for m in catalog:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        translated[key] = all(strings) and not m.fuzzy
    missing = sorted(k for k in extracted_msgids(tmp_path) if not translated.get(k))
    assert not missing, f"untranslated in {lang} (run `make translations`): {missing}"
    mo = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"
    assert mo.exists() and mo.stat().st_mtime >= (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").stat().st_mtime - 1
