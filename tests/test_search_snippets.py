"""Snippets read well in every language (issue 13, item 7): edges, marks, tables."""

from __future__ import annotations

import re

import pytest

from search.analysis import terms
from search.chunking import split_long
from search.snippets import snippet

MARK = re.compile(r"<mark>(.*?)</mark>")


def marks(html: str) -> list[str]:
    return MARK.findall(html)


def plain(html: str) -> str:
    return re.sub(r"</?mark>", "", html).strip("…")


@pytest.mark.parametrize("gap", range(0, 24))
def test_a_window_never_starts_inside_a_number_japanese(gap):
    # No punctuation near the cut: the edge must move to the start of the number.
    text = "あ" * 60 + "基本給の100,000%が支給" + "さ" * gap + "される育児休業を16週間取得できます" + "い" * 300
    out = plain(snippet(text, set(terms("育児休業")), window=60))
    at = text.find(out)
    assert not (text[at - 1].isdigit() or text[at - 1] == ","), out  # before: "…0%が支給…"


@pytest.mark.parametrize("pad", range(0, 90, 3))
def test_a_window_never_starts_or_ends_mid_word_english(pad):
    words = [f"w{i}x" for i in range(60)] + ["pneumonoultramicroscopicsilicovolcanoconiosis" * 2] + ["1,250.75", "dollars", "parental", "leave", "pays", "100%"] + [f"z{i}y" for i in range(60)]
    text = "q" * pad + " " + " ".join(words)
    body = plain(snippet(text, set(terms("parental leave")), window=70))
    start = text.find(body)
    assert start > 0 and text[start - 1] == " ", body  # starts at a word
    end = start + len(body)
    assert end == len(text) or text[end] == " ", body  # ends at a word


def test_korean_and_chinese_edges_are_clause_boundaries():
    ko = "가나다라마바사 " * 10 + "육아휴직은 최대 16주까지 사용할 수 있습니다. " + "아자차카타 " * 40
    out = plain(snippet(ko, set(terms("육아휴직")), window=50))
    assert out.split()[0] in ko.split(), out  # a whole word first
    zh = "公司规定，" * 12 + "员工的年假为十五天，病假另计。" + "其他说明。" * 40
    out = plain(snippet(zh, set(terms("年假")), window=40))
    assert zh[zh.find(out) - 1] in "，。", out


def test_japanese_marks_content_words_not_endings():
    text = "基本給の100%が支給される育児休業は16週間です。申請はCompassで行います。"
    got = marks(snippet(text, set(terms("育児休業は何週間取れますか"))))
    assert "育児休業" in got and "週間" in got
    assert not any(m in ("ます", "です", "は", "を", "すか") for m in got)  # before: <mark>ます</mark>
    assert not any(m.endswith("は") for m in got)  # before: <mark>育児休業は</mark>


def test_korean_marks_stop_before_particles_and_skip_endings():
    text = "육아휴직은 최대 16주입니다. 휴가를 쓰려면 팀장에게 알려야 해요."
    got = marks(snippet(text, set(terms("육아휴직은 언제 해요")) | set(terms("휴가"))))
    assert "육아휴직" in got and "휴가" in got  # a two-syllable word ending in 가 is still a word
    assert "육아휴직은" not in got and "해요" not in got


def test_chinese_marks_skip_function_characters():
    text = "年假有15天，病假另计。员工的年假在每年一月重置。"
    got = marks(snippet(text, set(terms("年假有几天"))))
    assert got and all(m == "年假" for m in got)  # before: <mark>年假有</mark>


def test_english_marks_skip_stop_words():
    got = marks(snippet("How do I request parental leave? You can request it in Compass.", set(terms("how do i request leave"))))
    assert got and {m.lower() for m in got} <= {"request", "leave"}


def test_table_rows_stay_apart():
    text = "Leave | Who | Paid? |\nSick leave | Everyone | Yes |\nParental leave | Every new parent | Yes |"
    out = snippet(text, set(terms("parental leave")))
    assert "Yes · <mark>Parental</mark>" in out  # before: "Yes | Parental": rows ran together
    assert not out.rstrip("…").endswith("|")
    # A long table split into chunks keeps its row breaks.
    rows = "\n".join(f"Row {i} | cell {i} | value {i} |" for i in range(120))
    pieces = split_long(rows)
    assert len(pieces) > 1 and all("|\nRow" in p for p in pieces)
    assert " · Row 3 | <mark>cell</mark> 3" in snippet(pieces[0], set(terms("cell")))
