"""The content layer: articles and departments read from Markdown and YAML."""

from .checks import check_library
from .library import Library
from .loader import ArticleRenderer, load_library
from .models import Article, Department, Problem, Section
from .slugs import slugify
from .store import ContentStore

__all__ = [
    "Article", "ArticleRenderer", "ContentStore", "Department", "Library", "Problem", "Section",
    "check_library", "load_library", "slugify",
]
