"""The CLI contract other tools rely on: kb search (--json, --batch), kb eval, kb index."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kb.cli import main
from kb.config import PROJECT_ROOT

ARTICLES = str(PROJECT_ROOT / "articles")


def invoke(bundled_index, *args, input=None):
    result = CliRunner().invoke(main, [*args[:1], "--articles", ARTICLES, "--index", str(bundled_index), *args[1:]], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_index_reports_up_to_date(bundled_index):
    assert "Index is up to date (62 articles)" in invoke(bundled_index, "index")


def test_search_text_output(bundled_index):
    out = invoke(bundled_index, "search", "--limit", "3", "VPN on hotel wifi")
    assert " 1. " in out and "it-security/" in out


def test_search_json(bundled_index):
    data = json.loads(invoke(bundled_index, "search", "--json", "--limit", "5", "how much is the mileage rate"))
    first = data["results"][0]
    assert first["article"] == "finance/mileage-reimbursement.md"
    assert set(first) >= {"article", "anchor", "title", "score", "heading", "department", "lang", "snippet"}


def test_batch_output_format(bundled_index):
    lines = "\n".join([
        json.dumps({"_id": "q1", "text": "parental leave weeks", "metadata": {"ignored": True}}),
        json.dumps({"_id": 7, "text": "経費精算の締め切り"}),
        "",
        json.dumps({"_id": "q3", "text": "!!!"}),
    ])
    out = invoke(bundled_index, "search", "--batch", "--limit", "4", input=lines)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["_id"] for r in rows] == ["q1", 7, "q3"]
    for r in rows[:2]:
        assert 0 < len(r["results"]) <= 4
        articles = [x["article"] for x in r["results"]]
        assert len(set(articles)) == len(articles)  # articles unique
        for x in r["results"]:
            assert set(x) == {"article", "anchor", "title", "score"}
            assert x["article"].endswith(".md") and not x["article"].startswith("/")
        scores = [x["score"] for x in r["results"]]
        assert scores == sorted(scores, reverse=True)
    assert rows[0]["results"][0]["article"] in ("people/parental-leave.md", "people/parental-leave.ja.md")
    assert rows[2]["results"] == []


def test_batch_rejects_bad_lines(bundled_index):
    result = CliRunner().invoke(main, ["search", "--articles", ARTICLES, "--index", str(bundled_index), "--batch"], input="not json\n")
    assert result.exit_code != 0 and "not a BEIR query line" in result.output


def test_eval_prints_metrics_per_language(bundled_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    qrels = tmp_path / "qrels.tsv"
    queries.write_text(
        json.dumps({"_id": "a", "text": "how do I report a phishing email", "lang": "en", "kind": "paraphrase"}) + "\n"
        + json.dumps({"_id": "b", "text": "通勤手当の上限", "lang": "ja", "kind": "native"}) + "\n",
        encoding="utf-8",
    )
    qrels.write_text("query-id\tcorpus-id\tscore\na\tit-security/reporting-phishing.md\t1\nb\tpeople/tokyo-office/commuting-allowance.ja.md\t1\n")
    out = invoke(bundled_index, "eval", "--queries", str(queries), "--qrels", str(qrels))
    header, *rows = out.strip().splitlines()
    assert all(m in header for m in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"))
    groups = {r.split()[0]: r.split() for r in rows}
    assert set(groups) == {"all", "lang=en", "lang=ja", "kind=native", "kind=paraphrase"}
    assert float(groups["all"][3]) == 1.0  # recall@5: both found in the top 5


def test_search_shows_a_policy_and_its_translation_once_as_the_site_does(bundled_index, search_app):
    # Before the search service, kb search listed people/parental-leave.md and its
    # Japanese translation as two results and counted articles, not what the page shows.
    data = json.loads(invoke(bundled_index, "search", "--json", "--limit", "50", "parental leave"))
    articles = [r["article"] for r in data["results"]]
    assert "people/parental-leave.md" in articles and "people/parental-leave.ja.md" not in articles
    family = next(r for r in data["results"] if r["article"] == "people/parental-leave.md")
    assert [o["article"] for o in family["also_in"]] == ["people/parental-leave.ja.md"]
    api = search_app.test_client().get("/api/search?q=parental+leave&limit=50").get_json()
    assert [r["article"] for r in api["results"]] == articles and api["total"] == data["total"]
    text = invoke(bundled_index, "search", "--limit", "3", "parental leave")
    assert f"({data['total']} articles," in text and "also in: ja people/parental-leave.ja.md" in text

