"""Does a result link to the section that answers? (issue 13, item 7)

Over ``benchmarks/dev/<corpus>/sections.jsonl`` (one line per question: ``text``, ``lang``, the
``article`` that answers and the ``anchor`` of its answering section), runs each question through
the search service, as the results page does, and counts how often the answering article is shown
in the first 5 and how often its link goes to the expected section.

    .venv/bin/python benchmarks/sections.py                       # the bundled handbook
    .venv/bin/python benchmarks/sections.py --cache-dir /tmp/kb-loo   # reuse loo.py's index
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.loo import SETS  # noqa: E402
from kb import KB  # noqa: E402
from kb.config import Config  # noqa: E402
from search.embedders import EmbedderPool  # noqa: E402
from search.evaluate import read_queries  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="bundled", choices=sorted(SETS))
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/kb-loo"), help="index dirs, as loo.py keeps them")
    args = ap.parse_args()
    articles, dev = SETS[args.corpus]
    config = Config.from_env().with_(articles_dir=articles, index_dir=args.cache_dir / f"idx-{articles.name}")
    kb = KB(config, models=EmbedderPool())
    kb.build_index()
    found = linked = 0
    questions = read_queries(dev / "sections.jsonl")
    for q in questions:
        page = kb.search.search(q["text"], page_size=5)
        hit = next((h for h in page.hits if q["article"] in {h.article, *(o.article for o in h.also_in)}), None)
        if hit is None:
            print(f"  not in top 5: {q['_id']} {q['text']!r}")
            continue
        found += 1
        anchor = hit.anchor if hit.article == q["article"] else next(o.anchor for o in hit.also_in if o.article == q["article"])
        if anchor == q["anchor"]:
            linked += 1
        else:
            print(f"  {q['_id']} {q['text']!r}: links to #{anchor or '(top)'}, answer in #{q['anchor']}")
    n = len(questions)
    print(f"\n{args.corpus}: {n} questions; answering article in the top 5: {found}/{n}; "
          f"linked to the answering section: {linked}/{n} ({linked / max(1, n):.2f}; {linked}/{found} of those found)")


if __name__ == "__main__":
    main()
