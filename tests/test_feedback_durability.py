"""Nothing an employee sent is lost by a later submission: 200 mixed votes, changes of answer and
gap reports from 20 people, in random order, through the web forms, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re

from sqlalchemy import func, select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.models import Flag, FlagEntry, Vote

from .conftest import migrate

ARTICLES = ["payroll/pay-schedule.md", "benefits/hsa-fsa.md", "people/leave-types.md", "it-security/vpn.md"]
REASONS = ["outdated", "incorrect", "unclear", "missing", "broken_link", "other"]


def test_200_mixed_submissions_from_20_people_lose_no_comment(database_url, tmp_path):
    migrate(database_url)
    app = create_app(KB(Config(
        articles_dir=PROJECT_ROOT / "articles", index_dir=tmp_path / "index", secret_key="t", reload_seconds=0,
        database_url=database_url, trusted_proxies="127.0.0.1",
        feedback_limit_person="100000/hour", feedback_limit_address="100000/hour")))
    app.testing = True
    kb = app.extensions["kb"]
    assert all(a in kb.library.articles for a in ARTICLES)
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/a/payroll/pay-schedule").get_data(as_text=True)).group(1)
    rng = random.Random(12)
    people = [f"person{i}@meridian.example" for i in range(20)]
    sent: list[str] = []  # every comment the site accepted
    kinds = {"no": 0, "yes": 0, "gap": 0}
    for n in range(200):
        who = rng.choice(people)
        headers = {"X-Forwarded-Email": who, "Accept": "application/json"}
        kind = rng.choices(["no", "yes", "gap"], weights=[5, 3, 2])[0]
        comment = f"comment {n} from {who}: {rng.choice(['ümlaut', '日本語', '한국어', '#hash', 'plain'])}"
        if kind == "gap":
            data = {"csrf_token": token, "query": rng.choice(["dental", "parking", "visa letter"]),
                    "department": rng.choice(["payroll", "benefits", "people"]), "comment": comment}
            resp = c.post("/feedback/gap", headers=headers, data=data)
        else:
            data = {"csrf_token": token, "article": rng.choice(ARTICLES), "helpful": kind}
            if kind == "no":
                data.update(reason=rng.choice(REASONS), comment=comment)
            resp = c.post("/feedback/article", headers=headers, data=data)
        assert resp.status_code == 200 and resp.get_json()["ok"], resp.get_data(as_text=True)
        kinds[kind] += 1
        if kind != "yes":
            sent.append(comment)
    assert min(kinds.values()) > 10  # a real mix, with changes of answer among them
    with kb.db.session() as s:
        stored = [t for t in s.scalars(select(FlagEntry.text).where(FlagEntry.kind == "report"))]
        changed = s.scalar(select(func.count()).select_from(Vote).where(Vote.changed_at.is_not(None)))
        reports = s.scalar(select(func.sum(Flag.reports)))
    assert sorted(stored) == sorted(sent)  # every comment, once, exactly as sent
    assert reports == len(sent)  # and each counted on its flag
    assert changed > 0
