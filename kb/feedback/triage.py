"""The owner's side of a flag: assigning, bulk actions, merging duplicates.

A mixin of ``FeedbackService`` (it uses the service's session, clock, channels
and permission checks) so the rules stay in the service while each module
keeps to one subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .identity import Person
from .models import Flag
from .notify import assignment_notice
from .rules import ACTIONS, OPEN_STATUSES, clean_assignee


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: the flags it changed and those it left as they were (already so)."""

    done: tuple[int, ...]
    skipped: tuple[int, ...] = ()


class TriageMixin:
    """Assign, acknowledge in bulk and merge; mixed into FeedbackService."""

    def assignable(self, department: str) -> set[str]:
        """Who may be assigned a flag of ``department``: its owners and the admins."""
        dep = self._department(department)
        return {o.lower() for o in (dep.owners if dep else [])} | set(self.admins)

    def assign(self, actor: Person, flag_ids: Sequence[int], assignee: str | None) -> BulkResult:
        """Assign every flag of ``flag_ids`` to ``assignee``, or none of them (all are checked first).

        The assignee must own each flag's department or be an admin; they are told through the outbox.
        """
        assignee = clean_assignee(assignee)
        if not flag_ids:
            raise InvalidInputError("nothing_selected", "select at least one flag")
        if assignee is None:
            raise InvalidInputError("assignee_required", "give the email address of the person to assign")
        with self.db.session() as s:
            flags = self._all_triageable(s, actor, flag_ids)
            for flag in flags:
                if assignee not in self.assignable(flag.department):
                    raise InvalidInputError("not_assignable", f"{assignee} does not own {flag.department}",
                                            assignee=assignee, department=self._department_name(flag.department))
            done = [f for f in flags if f.assignee != assignee]
            for flag in done:
                self._set_assignee(s, actor, flag, assignee)
                if assignee != actor.email:  # assigning yourself needs no email
                    self._tell_assignee(s, actor, flag, assignee)
            return BulkResult(tuple(f.id for f in done), tuple(f.id for f in flags if f not in done))

    def unassign(self, actor: Person, flag_ids: Sequence[int]) -> BulkResult:
        """Take the assignee off each flag of ``flag_ids`` (an explicit action: an empty address never unassigns)."""
        if not flag_ids:
            raise InvalidInputError("nothing_selected", "select at least one flag")
        with self.db.session() as s:
            flags = self._all_triageable(s, actor, flag_ids)
            done = [f for f in flags if f.assignee is not None]
            for flag in done:
                self._set_assignee(s, actor, flag, None)
            return BulkResult(tuple(f.id for f in done), tuple(f.id for f in flags if f not in done))

    def bulk_acknowledge(self, actor: Person, flag_ids: Sequence[int]) -> BulkResult:
        """Acknowledge the new flags of ``flag_ids`` in one transaction, after checking them all."""
        if not flag_ids:
            raise InvalidInputError("nothing_selected", "select at least one flag")
        step = ACTIONS["acknowledge"]
        with self.db.session() as s:
            flags = self._all_triageable(s, actor, flag_ids)
            todo = [f for f in flags if f.status in step.sources]  # acknowledged or closed: nothing to do
            for flag in todo:
                self._apply(s, flag, step, actor.email, None)
            return BulkResult(tuple(f.id for f in todo), tuple(f.id for f in flags if f not in todo))

    def merge(self, actor: Person, flag_id: int, into: int) -> Flag:
        """Close ``flag_id`` as a duplicate of ``into``; its reporters are told when ``into`` is resolved.

        Both must be open; an owner merges within one department, an admin across departments.
        """
        if flag_id == into:
            raise InvalidInputError("merge_self", "a flag cannot be merged into itself")
        with self.db.session() as s:
            source = self._triageable(s, actor, flag_id)
            try:
                target = self._triageable(s, actor, into)
            except PermissionDeniedError:  # another department's flag looks like no flag
                raise NotFoundError("not_found", f"no flag {into}", id=into) from None
            if source.department != target.department and not actor.is_admin:
                raise PermissionDeniedError("merge_department", "only an admin merges flags of two departments")
            for flag in (source, target):
                if flag.status not in OPEN_STATUSES:
                    raise InvalidInputError("merge_closed", "only open flags can be merged", id=flag.id)
            now = self.now()
            # Duplicates already merged into the source follow it, so they are told too.
            for earlier in s.scalars(select(Flag).where(Flag.merged_into == source.id)):
                earlier.merged_into = target.id
            before = source.status
            source.status, source.merged_into, source.closed_at, source.updated_at = "merged", target.id, now, now
            target.reports = (target.reports or 1) + (source.reports or 1)
            target.updated_at = now
            self._event(s, source, actor.email, "merged", {"from": before, "to": "merged", "into": target.id})
            self._event(s, target, actor.email, "merged_in", {"from_flag": source.id})
            return source

    # --- internals --------------------------------------------------------
    def _department_name(self, dep_id: str) -> str:
        dep = self._department(dep_id)
        return dep.name if dep else dep_id

    def _set_assignee(self, s: Session, actor: Person, flag: Flag, assignee: str | None) -> None:
        self._event(s, flag, actor.email, "assigned", {"from": flag.assignee, "to": assignee})
        flag.assignee = assignee
        flag.updated_at = self.now()

    def _tell_assignee(self, s: Session, actor: Person, flag: Flag, assignee: str) -> None:
        s.flush()
        title = flag.query or flag.article or ""
        lib = self.library()
        if flag.article and flag.article in lib.articles:
            title = lib.articles[flag.article].title
        notice = assignment_notice(flag, self._department(flag.department), title, actor.email, self.urls,
                                   len(flag.events))
        self._enqueue(s, self.channels.for_person(notice, assignee), flag)
