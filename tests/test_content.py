"""The content model: front matter, rendering, links, languages, departments."""

from __future__ import annotations

from datetime import date

from kb.content import load_library, slugify
from kb.content.departments import parse_response_target
from kb.content.lang import detect_language
from kb.content.templating import strip_template_tags


def test_front_matter_fields_and_defaults(make_articles):
    root = make_articles({
        "benefits/parental-leave.md": """
            ---
            title: Parental leave
            summary: Sixteen weeks paid.
            owners: [a@x.example]
            tags: leave, family
            aliases: [maternity leave, 育児休業]
            last_reviewed: 2026-08-14
            review_every: 90
            related: [benefits/other.md]
            custom_key: kept
            ---
            ## Eligibility
            Everyone.
            """,
        "benefits/other.md": "# Other things\n\nBody text here.\n",
    })
    lib = load_library(root)
    a = lib.articles["benefits/parental-leave.md"]
    assert a.title == "Parental leave"
    assert a.department == "benefits"  # from the top folder
    assert a.tags == ["leave", "family"]
    assert a.aliases == ["maternity leave", "育児休業"]
    assert a.last_reviewed == date(2026, 8, 14)
    assert a.review_every == 90
    assert a.extra == {"custom_key": "kept"}
    assert a.lang == "en"
    other = lib.articles["benefits/other.md"]
    assert other.title == "Other things"  # the first H1
    assert "<h1" not in other.html  # not shown twice
    assert other.summary == "Body text here."
    assert not [p for p in lib.problems if p.severity == "error"]


def test_bad_yaml_reports_file_and_line_and_the_rest_loads(make_articles):
    root = make_articles({
        "people/good.md": "---\ntitle: Good\n---\nFine.\n",
        "people/broken.md": "---\ntitle: Broken\ntags: [a, b\nowners: x\n---\nBody\n",
        "people/unclosed.md": "---\ntitle: Never closed\nBody\n",
    })
    lib = load_library(root)
    assert list(lib.articles) == ["people/good.md"]
    by_file = {p.file: p for p in lib.problems}
    broken = by_file["people/broken.md"]
    assert broken.severity == "error" and broken.code == "yaml-error"
    assert broken.line == 4  # where the parser noticed...
    assert "started on line 3" in broken.message  # ...and where the list was opened
    assert by_file["people/unclosed.md"].line == 1
    assert "never ends" in by_file["people/unclosed.md"].message


def test_front_matter_that_is_not_a_mapping(make_articles):
    root = make_articles({"hr/list.md": "---\n- a\n- b\n---\nBody\n"})
    lib = load_library(root)
    assert not lib.articles
    assert lib.problems[0].code == "yaml-error" and "mapping" in lib.problems[0].message


def test_missing_title_is_an_error_but_the_article_still_loads(make_articles):
    root = make_articles({"hr/untitled-page.md": "Just text, no heading.\n"})
    lib = load_library(root)
    (p,) = lib.problems
    assert p.code == "missing-title" and p.file == "hr/untitled-page.md"
    assert lib.articles["hr/untitled-page.md"].title == "Untitled page"


def test_bad_dates_and_review_every(make_articles):
    root = make_articles({
        "hr/a.md": "---\ntitle: A\nlast_reviewed: 2026-13-01\nreview_every: soon\n---\nx\n",
    })
    lib = load_library(root)
    codes = {p.code: p for p in lib.problems}
    assert codes["bad-date"].line == 3 and "YYYY-MM-DD" in codes["bad-date"].message
    assert codes["bad-review-every"].line == 4


def test_cjk_heading_anchors_are_stable_and_readable(make_articles):
    root = make_articles({
        "people/tokyo/commute.ja.md": "---\ntitle: 通勤手当\n---\n## 申請方法\n\n手順です。\n\n## 支給額（上限）\n\n## 申請方法\n",
        "people/seoul.ko.md": "---\ntitle: 연말정산\n---\n## 연말정산 일정\n\n내용\n",
    })
    lib = load_library(root)
    ja = lib.articles["people/tokyo/commute.ja.md"]
    assert [h.anchor for h in ja.headings] == ["申請方法", "支給額上限", "申請方法_1"]
    assert 'id="申請方法"' in ja.html
    assert ja.lang == "ja"
    assert lib.articles["people/seoul.ko.md"].headings[0].anchor == "연말정산-일정"
    assert lib.articles["people/seoul.ko.md"].lang == "ko"
    assert slugify("Receipts & approvals") == "receipts-approvals"
    assert slugify("How do I file a claim?") == "how-do-i-file-a-claim"


def test_script_injection_never_survives_rendering(make_articles):
    root = make_articles({
        "it/evil.md": """
            ---
            title: Evil
            ---
            <script>alert('x')</script>

            <img src="x.png" onerror="alert(1)">

            [click](javascript:alert(1)) <a href="#" onclick="steal()">a</a>

            <iframe src="https://evil.example"></iframe>
            """,
    })
    html = load_library(root).articles["it/evil.md"].html
    lowered = html.lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "alert('x')"):
        assert bad not in lowered, bad
    assert "<img" in lowered  # harmless markup is kept


def test_liquid_and_hugo_tags_are_removed_from_text_and_links_survive(make_articles):
    root = make_articles({
        "travel/leave.md": """
            ---
            title: Leave
            ---
            {% alert %}
            Use the chart.
            {% endalert %}

            See [going out]({% page "/travel/out-of-office/" %}) and {{ site.name }}.

            {{% details summary="More" %}}
            Hidden detail.
            {{% /details %}}

            {{< ref "travel/out-of-office.md" >}}

            ```
            {{ kept_in_code }}
            ```
            """,
        "travel/out-of-office.md": "---\ntitle: Out of office\n---\nText\n",
    })
    a = load_library(root).articles["travel/leave.md"]
    assert "{%" not in a.html and "{{%" not in a.html and "site.name" not in a.html
    assert "Use the chart." in a.html and "Hidden detail." in a.html
    assert 'href="/a/travel/out-of-office"' in a.html
    assert "{{ kept_in_code }}" in a.html
    text = " ".join(s.text for s in a.sections)
    assert "{%" not in text and "Hidden detail." in text
    assert strip_template_tags("a {{< x >}} b") == "a  b"


def test_sections_carry_heading_path_and_page_anchors(make_articles):
    root = make_articles({
        "finance/expenses.md": """
            ---
            title: Expenses
            ---
            Intro text.

            ## Receipts & approvals

            Keep receipts over $25.

            ### Lost receipts?

            Fill in the missing receipt form.

            | Item | Limit |
            |------|-------|
            | Hotel | $250 |
            """,
    })
    a = load_library(root).articles["finance/expenses.md"]
    assert [(s.anchor, s.path) for s in a.sections] == [
        ("", ()),
        ("receipts-approvals", ("Receipts & approvals",)),
        ("lost-receipts", ("Receipts & approvals", "Lost receipts?")),
    ]
    assert "Hotel | $250" in a.sections[2].text
    for s in a.sections[1:]:
        assert f'id="{s.anchor}"' in a.html


def test_links_between_articles_are_rewritten(make_articles):
    root = make_articles({
        "finance/expenses.md": "---\ntitle: E\n---\n## Receipts\n",
        "finance/_index.md": "---\ntitle: Finance\n---\nx\n",
        "people/onboarding/week-one.md": """
            ---
            title: Week one
            ---
            [expenses](../../finance/expenses.md#receipts), [finance](/finance/),
            [site]( https://example.com/x ), [mail](mailto:a@b.example)
            """,
    })
    a = load_library(root).articles["people/onboarding/week-one.md"]
    assert 'href="/a/finance/expenses#receipts"' in a.html
    assert 'href="/a/finance"' in a.html
    assert 'href="https://example.com/x"' in a.html
    assert {link.resolved for link in a.links} == {"finance/expenses.md", "finance/_index.md"}


def test_language_detection():
    assert detect_language("経費の精算方法について説明します") == "ja"
    assert detect_language("연말정산 안내") == "ko"
    assert detect_language("住房公积金缴存比例") == "zh"
    assert detect_language("Parental leave policy") == "en"
    assert detect_language("GitLabの経費ポリシー: Expensify で申請します") == "ja"


def test_translations_are_grouped(make_articles):
    root = make_articles({
        "benefits/leave.md": "---\ntitle: Leave\n---\nx\n",
        "benefits/leave.ja.md": "---\ntitle: 休暇\nlang: ja\ntranslation_of: benefits/leave.md\n---\nx\n",
        "benefits/leave.ko.md": "---\ntitle: 휴가\nlang: ko\ntranslation_of: benefits/leave.md\n---\nx\n",
    })
    lib = load_library(root)
    assert [a.path for a in lib.translations(lib.articles["benefits/leave.md"])] == [
        "benefits/leave.ja.md", "benefits/leave.ko.md",
    ]
    assert [a.path for a in lib.translations(lib.articles["benefits/leave.ja.md"])] == [
        "benefits/leave.md", "benefits/leave.ko.md",
    ]
    assert lib.articles["benefits/leave.ja.md"].slug == "benefits/leave.ja"


def test_a_regional_language_tag_is_read_as_its_language(make_articles):
    root = make_articles({
        "benefits/leave.md": "---\ntitle: Leave\nlang: en-US\n---\nx\n",
        "benefits/leave.ja.md": "---\ntitle: 休暇\nlang: ja_JP\ntranslation_of: benefits/leave.md\n---\nx\n",
        "benefits/leave.zh.md": "---\ntitle: 休假\nlang: zh-Hant-TW\ntranslation_of: benefits/leave.md\n---\nx\n",
    })
    lib = load_library(root)
    assert [lib.articles[p].lang for p in ("benefits/leave.md", "benefits/leave.ja.md", "benefits/leave.zh.md")] == [
        "en", "ja", "zh",
    ]
    assert not [p for p in lib.problems if p.code == "translation-same-lang"]


def test_departments_file(make_articles):
    root = make_articles({
        "departments.yml": """
            departments:
              - id: payroll
                name: Payroll
                owners: [p@x.example]
                contact: {email: payroll@x.example, chat: "#ask-payroll"}
                response_target: 2 business days
                review_every: 180
                notify: {email: [p@x.example]}
                synonyms:
                  - [W-2, tax form, 源泉徴収票]
                  - "paycheck = pay stub = 給与明細"
              - id: payroll
                name: Again
              - name: No id
              - id: it
                name: IT
                response_target: whenever
            """,
        "payroll/pay.md": "---\ntitle: Pay\n---\nx\n",
    })
    lib = load_library(root)
    payroll = lib.departments["payroll"]
    assert payroll.contact.chat == "#ask-payroll"
    assert payroll.response_target.unit == "business_days" and payroll.response_target.amount == 2
    assert payroll.synonyms[1] == ["paycheck", "pay stub", "給与明細"]
    assert lib.articles["payroll/pay.md"].review_every == 180  # the department's default
    codes = sorted((p.code, p.line) for p in lib.problems)
    assert codes == [("department-id", 14), ("duplicate-department", 12), ("response-target", 15)]


def test_response_target_parsing():
    assert parse_response_target("3 business days").unit == "business_days"
    assert parse_response_target("5 days").unit == "days"
    assert parse_response_target("24 hours").amount == 24
    assert parse_response_target("soon") is None


def test_non_utf8_file_is_reported(make_articles, tmp_path):
    root = make_articles({"hr/ok.md": "---\ntitle: OK\n---\n"})
    (root / "hr" / "latin1.md").write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    lib = load_library(root)
    assert "hr/ok.md" in lib.articles
    assert [p.code for p in lib.problems] == ["encoding"]


def test_reloading_rerenders_what_changed_and_links_that_now_resolve(make_articles, monkeypatch):
    from kb.content import ArticleRenderer

    root = make_articles({
        "hr/leave.md": "---\ntitle: Leave\n---\n# Leave\n\nSee [travel](../finance/travel.md).\n",
        "hr/benefits.md": "---\ntitle: Benefits\n---\n# Benefits\n\nDental and vision.\n",
    })
    renderer = ArticleRenderer()
    first = load_library(root, use_git=False, renderer=renderer)
    rendered = []
    real = renderer._render
    monkeypatch.setattr(renderer, "_render", lambda a, r: rendered.append(a.path) or real(a, r))
    (root / "hr" / "benefits.md").write_text("---\ntitle: Benefits\n---\n# Benefits\n\nDental, vision and *hearing*.\n")
    second = load_library(root, use_git=False, renderer=renderer)
    assert rendered == ["hr/benefits.md"]  # the unchanged article came from the last load
    assert second.articles["hr/leave.md"].html == first.articles["hr/leave.md"].html
    assert "<em>hearing</em>" in second.articles["hr/benefits.md"].html
    assert second.articles["hr/leave.md"].links[0].resolved is None
    # A new article changes where links go: everything is rendered again.
    (root / "finance").mkdir()
    (root / "finance" / "travel.md").write_text("---\ntitle: Travel\n---\n# Travel\n\nBook early.\n")
    rendered.clear()
    third = load_library(root, use_git=False, renderer=renderer)
    assert sorted(rendered) == ["finance/travel.md", "hr/benefits.md", "hr/leave.md"]
    assert third.articles["hr/leave.md"].links[0].resolved == "finance/travel.md"
    assert 'href="/a/finance/travel"' in third.articles["hr/leave.md"].html
