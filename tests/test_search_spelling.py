"""'Did you mean' only when it helps (issue 13, item 4): on the bundled handbook and 18F."""

from __future__ import annotations

import pytest

from kb.content import load_library
from search.handle import IndexHandle
from search.service import SearchService
from search.spelling import Speller, clearly_better, keep_case, listed_words, vocabulary

from .conftest import corpus

RIGHT_WORDS = ["computer", "quit", "taxi", "masters degree", "RSU vesting", "I left my work computer on the train"]


@pytest.fixture(scope="module")
def service(bundled_index, models):
    handle = IndexHandle(bundled_index, models)
    yield SearchService(handle)
    handle.close()


@pytest.mark.parametrize("query", RIGHT_WORDS)
def test_words_spelled_right_are_not_corrected(service, query):
    # Before: computer->commuter, quit->quiet, taxi->tax, "matters decree", "rsu testing".
    page = service.search(query)
    assert page.did_you_mean is None and not page.corrected
    if query == "masters degree":
        # No bundled article mentions degrees: no answer, and no "matters decree" either.
        assert not page.answered
    else:
        assert page.hits


@pytest.mark.parametrize("query, expected", [
    ("Reimbursment polcy", "Reimbursement policy"),  # the reader's capitals stay
    ("HSA contributon limit", "HSA contribution limit"),
    ("paternty leave", "paternity leave"),  # corrected to a listed synonym, not to "patent"
])
def test_real_typos_are_corrected_in_the_readers_capitals(service, query, expected):
    assert service.search(query).did_you_mean == expected


def test_typed_query_that_found_nothing_shows_the_correction(service):
    page = service.search("Expnse deadlne")
    assert page.did_you_mean == "Expense deadline" and page.corrected


def test_known_inflections_synonyms_and_aliases_are_never_corrected():
    sp = Speller(vocabulary(["taxis and hotels", "the match is vested", "a quiet room"] * 3 + ["commuter trains"] * 5),
                 protected=listed_words(["laptop, computer", "resign = quit"]))
    assert sp.correct("taxi") is None and sp.correct("vesting") is None  # other forms of indexed words
    assert Speller(vocabulary(["sick leave"])).correct("sick leav") == "sick leave"  # a stem is not a word
    assert sp.correct("computer") is None and sp.correct("quit") is None  # synonyms the handbook lists
    assert sp.correct("reimbursment") is None  # unknown, but nothing near it
    assert sp.correct("computr") == "computer"  # a listed word is a correction too
    # A shared stem alone is not knowing the word: "reimbursment" is a typo.
    assert Speller(vocabulary(["reimbursement"])).correct("Reimbursment") == "Reimbursement"


def test_an_indexed_word_is_corrected_only_when_far_rarer():
    sp = Speller({"polcy": 1, "policy": 150})
    assert sp.correct("polcy") == "policy"  # a typo in the handbook itself
    assert Speller({"polcy": 1, "policy": 20}).correct("polcy") is None


def test_case_and_evidence_rules():
    assert keep_case("RSU", "rsa") == "RSA" and keep_case("Leave", "leaves") == "Leaves" and keep_case("x", "y") == "y"
    # Every model must find the correction at least as close, and one clearly closer.
    assert clearly_better({"minilm": 0.24, "use": 0.38}, {"minilm": 0.53, "use": 0.41})
    assert not clearly_better({"minilm": 0.10, "use": 0.18}, {"minilm": 0.25, "use": 0.16})  # masters -> matters
    assert not clearly_better({"use": 0.30}, {"use": 0.31})
    assert clearly_better({}, {})


def test_18f_words_are_known_there():
    lib = load_library(corpus("18f-handbook"), use_git=False)
    texts = [s.text for a in lib.articles.values() for s in a.sections] + [a.title for a in lib.articles.values()]
    aliases = [t for a in lib.articles.values() for t in a.aliases]
    sp = Speller(vocabulary(texts), protected=listed_words(aliases))
    for query in ["computer", "Computer", "taxi", "quit"]:
        assert sp.correct(query) is None, query
    assert sp.correct("masters degree") is None  # "master" is there
    # Neither "RSU" nor "vesting" is in 18F, whose "testing" reads closer to it than
    # "vesting" does: a query about what the handbook lacks is not bent onto its words.
    assert sp.correct("RSU vesting") is None
    assert sp.correct("Travle reimbursment") == "Travel reimbursement"


def test_department_synonyms_apply_to_every_query(make_articles, tmp_path, models):
    """A group listed only under one department in departments.yml expands a search
    with no department filter too, and one filtered to another department."""
    from kb import indexing
    from kb.config import Config

    root = make_articles({
        "departments.yml": """
            departments:
              - id: finance
                name: Finance
                response_target: 2 business days
                synonyms:
                  - [zorblax, reimbursement form]
              - id: people
                name: People
                response_target: 2 business days
        """,
        "finance/claims.md": "---\ntitle: Claims\n---\n\nFill in the reimbursement form within 30 days.\n",
        "people/leave.md": "---\ntitle: Leave\n---\n\nAsk your manager before you take leave.\n",
    })
    cfg = Config(articles_dir=root, index_dir=tmp_path / "index", embedders="use-m3")
    indexing.build(cfg, models)
    handle = IndexHandle(cfg.resolved_index_dir, models)
    try:
        page = SearchService(handle).search("zorblax")
        assert page.hits[0].article == "finance/claims.md"
        assert "keyword" in page.hits[0].sources  # found by the synonym's words, not by luck
        assert page.did_you_mean is None
    finally:
        handle.close()
