"""Every report as tables: what the pages show beside their charts, and what CSV exports hold.

Labels are message ids (``N_``): the pages translate them, the CSV keeps them in English.
A column's ``fmt`` says how to show its cells: text, int, pct (a share 0-1), hours, share
(a helpful share, "too few to say" under the minimum of votes), mean (a mean rating, the same
under the minimum of ratings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..feedback.rules import N_

WEEKDAYS = (N_("Sun"), N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    fmt: str = "int"


@dataclass
class Table:
    name: str  # stable, for CSV and anchors
    title: str  # a message id
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: str | None = None  # "bars" (first column labels, second values) or "heatmap"
    note: str | None = None  # a message id shown under the table
    extra: dict[str, Any] = field(default_factory=dict)


QUERY_COLUMNS = [Column("query", N_("Query"), "text"), Column("searches", N_("Searches")),
                 Column("searchers", N_("Distinct searchers")), Column("zero", N_("Zero answers")),
                 Column("clicked", N_("Opened")), Column("no_click", N_("No click"))]
TOTALS = (("searches", N_("Searches"), "int"), ("success_rate", N_("Success rate (a result opened)"), "pct"),
          ("zero_answer_rate", N_("Zero-answer rate"), "pct"), ("unanswered_rate", N_("Not answered rate"), "pct"),
          ("no_click_rate", N_("No-click rate"), "pct"), ("didnt_find_rate", N_("\u201cDidn't find\u201d rate"), "pct"),
          ("didnt_find", N_("\u201cDidn't find\u201d reports"), "int"))
SCORE_COLUMNS = [Column("yes", N_("Yes")), Column("no", N_("No")), Column("votes", N_("Votes")),
                 Column("share", N_("Helpful share"), "share"), Column("low", N_("95 per cent interval, from"), "pct"),
                 Column("high", N_("95 per cent interval, to"), "pct")]


def _pairs(name: str, title: str, label: str, value: str, data: dict, fmt: str = "text") -> Table:
    rows = [{"key": k, "value": v} for k, v in data.items()]
    return Table(name, title, [Column("key", label, fmt), Column("value", value)], rows, chart="bars")


def heatmap(name: str, title: str, grid: list[list[int]]) -> Table:
    columns = [Column("day", N_("Day"), "weekday")] + [Column(str(h), f"{h:02d}") for h in range(24)]
    rows = [{"day": d, **{str(h): n for h, n in enumerate(row)}} for d, row in enumerate(grid)]
    return Table(name, title, columns, rows, chart="heatmap", note=N_("Hours are UTC."),
                 extra={"max": max((max(r) for r in grid), default=0)})


def search_tables(r: dict) -> list[Table]:
    totals = Table("totals", N_("Totals"), [Column("label", N_("Figure"), "label"), Column("value", N_("Value"), "auto")],
                   [{"label": label, "value": r["totals"][key], "fmt": fmt} for key, label, fmt in TOTALS])
    return [
        totals,
        _pairs("per_day", N_("Searches per day"), N_("Day"), N_("Searches"), r["per_day"]),
        _pairs("per_language", N_("Searches per language"), N_("Language"), N_("Searches"), r["per_language"]),
        Table("top_queries", N_("Top queries"), QUERY_COLUMNS, r["top_queries"]),
        Table("top_zero_answer", N_("Top zero-answer queries"), QUERY_COLUMNS, r["top_zero_answer"]),
        Table("top_no_click", N_("Top no-click queries"), QUERY_COLUMNS, r["top_no_click"]),
        _pairs("click_positions", N_("Which result was opened"), N_("Position"), N_("Clicks"), r["click_positions"], "int"),
        heatmap("heatmap", N_("Searches by weekday and hour"), r["heatmap"]),
    ]


def gap_tables(r: dict) -> list[Table]:
    columns = [Column("examples", N_("Example queries"), "text"), Column("searches", N_("Failed searches")),
               Column("reports", N_("\u201cDidn't find\u201d reports")), Column("queries", N_("Different queries")),
               Column("languages", N_("Languages"), "text"), Column("department", N_("Likely department"), "text"),
               Column("flag", N_("Action"), "gapflag")]
    rows = [{**g, "examples": "; ".join(g["examples"]), "languages": ", ".join(g["languages"]),
             "flag": {"department": g["department"], "query": g["examples"][0] if g["examples"] else "",
                      "searches": g["searches"], "languages": ", ".join(g["languages"])}}
            for g in r["groups"]]
    return [Table("groups", N_("Failed searches grouped by meaning"), columns, rows,
                  note=N_("Zero answers, not answered, nothing opened, and \u201cdidn't find\u201d reports, across languages."))]


def helpfulness_tables(r: dict) -> list[Table]:
    article = [Column("title", N_("Article"), "article"), Column("department", N_("Department"), "text")]
    return [
        Table("articles", N_("Worst-rated articles first"), article + SCORE_COLUMNS, r["articles"],
              note=N_("Ranked by the upper end of the 95 per cent interval.")),
        Table("departments", N_("Departments"), [Column("department", N_("Department"), "text")] + SCORE_COLUMNS,
              [{"department": d, **v} for d, v in r["departments"].items()]),
        _pairs("reasons", N_("Reasons given"), N_("Reason"), N_("Votes"), r["reasons"]),
        Table("by_month", N_("By month"), [Column("month", N_("Month"), "text")] + SCORE_COLUMNS,
              [{"month": m, **v} for m, v in r["by_month"].items()]),
    ]


def service_tables(r: dict) -> list[Table]:
    columns = [Column("department", N_("Department"), "text"), Column("received", N_("Received")),
               Column("ack_median", N_("Acknowledge, median"), "hours"), Column("ack_p90", N_("Acknowledge, 90th percentile"), "hours"),
               Column("resolve_median", N_("Resolve, median"), "hours"), Column("resolve_p90", N_("Resolve, 90th percentile"), "hours"),
               Column("within_target_share", N_("Within target"), "pct"), Column("open", N_("Open")), Column("overdue", N_("Overdue"))]
    rows = [{"department": d, "received": v["received"], "ack_median": v["acknowledge"]["median_hours"],
             "ack_p90": v["acknowledge"]["p90_hours"], "resolve_median": v["resolve"]["median_hours"],
             "resolve_p90": v["resolve"]["p90_hours"], "within_target_share": v["within_target_share"],
             "open": v["open"], "overdue": v["overdue"]} for d, v in r["departments"].items()]
    weeks = [{"week": w, "received": c.get("received", 0), "resolved": c.get("resolved", 0)} for w, c in r["by_week"].items()]
    score_columns = [Column("ratings", N_("Ratings")), Column("mean", N_("Mean (1-5)"), "mean")] + [
        Column(f"score_{k}", str(k)) for k in range(1, 6)]
    sat = r.get("satisfaction", {"departments": {}, "by_month": []})
    return [
        Table("departments", N_("Flags per department"), columns, rows),
        Table("satisfaction", N_("Satisfaction with the handling"), [Column("department", N_("Department"), "text")] + score_columns,
              [{"department": d, **v} for d, v in sat["departments"].items()]),
        Table("satisfaction_by_month", N_("Satisfaction by month"), [Column("department", N_("Department"), "text"),
              Column("month", N_("Month"), "text")] + score_columns, sat["by_month"]),
        Table("by_week", N_("By week"), [Column("week", N_("Week"), "text"), Column("received", N_("Received")),
                                         Column("resolved", N_("Resolved"))], weeks, chart="bars"),
        heatmap("heatmap", N_("Flags by weekday and hour"), r["heatmap"]),
    ]


def content_tables(r: dict) -> list[Table]:
    article = [Column("title", N_("Article"), "article"), Column("department", N_("Department"), "text")]
    return [
        Table("stale", N_("Due for review, most-read first"), article + [
            Column("review_due", N_("Review due"), "text"), Column("overdue", N_("Overdue"), "bool"),
            Column("views", N_("Views"))], r["stale"]),
        Table("never_viewed", N_("Not viewed in 90 days"), article, r["never_viewed_90_days"]),
        Table("translations_behind", N_("Translations older than their original"), article + [
            Column("lang", N_("Language"), "text"), Column("original_changed", N_("Original changed"), "text"),
            Column("translation_changed", N_("Translation changed"), "text")], r["translations_behind"]),
        Table("most_read", N_("Most read"), [Column("title", N_("Article"), "article"), Column("views", N_("Views"))],
              r["most_read"], chart="bars"),
    ]


TABLES = {"search": search_tables, "gaps": gap_tables, "helpfulness": helpfulness_tables, "service": service_tables, "content": content_tables}


def tables_for(report: dict) -> list[Table]:
    return TABLES[report["section"]](report)
