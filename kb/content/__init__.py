"""The content layer: articles and departments read from Markdown and YAML."""

from .checks import check_library
from .loader import Library, load_library
from .models import Article, Department, Problem, Section
from .slugs import slugify
from .store import ContentStore

__all__ = [
    "Article", "ContentStore", "Department", "Library", "Problem", "Section",
    "check_library", "load_library", "slugify",
]
