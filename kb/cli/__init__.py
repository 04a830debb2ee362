"""The ``kb`` command: one module per command group, every command on a ``KB``.

    kb serve            serve the site (builds the index first)
    kb check            validate articles and departments.yml
    kb index            build or update the search index
    kb search QUERY     search from the terminal (or --batch BEIR queries)
    kb eval             retrieval metrics over a BEIR query set
    kb db upgrade       create or migrate the feedback database
    kb outbox deliver   send due notifications
    kb worker           notifications, daily jobs, index refresh (production)
    kb outbox digest    queue the daily overdue digest for each department (cron)
    kb insights         search, helpfulness, service and content figures (rollup: finished days; prune: retention)
"""

from __future__ import annotations

import click

from . import check, database, insights, search, serve, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
def main() -> None:
    """kb: the employee knowledge base."""


for command in (serve.serve, check.check, search.index, search.search, search.eval_cmd, database.db, database.outbox,
                worker.worker, insights.insights):
    main.add_command(command)

__all__ = ["main"]
