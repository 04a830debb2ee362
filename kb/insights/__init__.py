"""Insights: what each department's readers searched, found, rated and waited for."""

from .period import Period, Scope
from .retention import PruneReport
from .service import SECTIONS, InsightsService

__all__ = ["SECTIONS", "InsightsService", "Period", "PruneReport", "Scope"]
