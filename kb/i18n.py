"""Which language the interface speaks: the switcher's cookie, else Accept-Language."""

from __future__ import annotations

from flask import request
from flask_babel import Babel

from search.query import primary_language

from .config import LANGUAGES

COOKIE = "kb_lang"
#: Names of the languages in themselves, for the switcher.
LANGUAGE_NAMES = {"en": "English", "ja": "日本語", "ko": "한국어", "zh": "简体中文"}

babel = Babel()


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return best_language(request.accept_languages)


def best_language(accepted) -> str:  # noqa: ANN001 (werkzeug LanguageAccept)
    """The first accepted language we speak, comparing primary tags.

    Werkzeug's best_match prefers any exact match over a regional one, so
    "ko-KR, en;q=0.5" would get English; a Korean reader wants Korean.
    """
    for value, quality in accepted:
        primary = primary_language(value)
        if quality > 0 and primary in LANGUAGES:
            return primary
    return "en"


def init_app(app) -> None:  # noqa: ANN001 (a Flask app)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path) + "/translations")
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def language_context() -> dict:
        return {"ui_lang": select_locale() if request else "en", "language_names": LANGUAGE_NAMES}

