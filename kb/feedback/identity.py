"""Who is asking, and what they may do.

Production: a trusted SSO proxy sets a header (KB_IDENTITY_HEADER, e.g.
X-Forwarded-Email) that is honoured only from KB_TRUSTED_PROXIES. Local runs
(dev mode): a demo user picked with a visible switcher. Owners come from
departments.yml, admins from KB_ADMINS.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..content.models import Department
from .rules import EMAIL_MAX

#: One address, nothing around it: no lists (",", ";"), no display names ("<>"), no spaces or control characters.
_ADDRESS = re.compile(r"[^@\s,;<>\"'\x00-\x1f\x7f]+@[^@\s,;<>\"'\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Person:
    email: str | None  # None: anonymous
    is_admin: bool = False
    owns: frozenset[str] = field(default_factory=frozenset)  # department ids

    @property
    def signed_in(self) -> bool:
        return self.email is not None

    def can_triage(self, department: str) -> bool:
        return self.is_admin or department in self.owns

    @property
    def is_triager(self) -> bool:
        return self.is_admin or bool(self.owns)


def person_for(email: str | None, departments: dict[str, Department], admins: set[str]) -> Person:
    if not email:
        return Person(None)
    email = email.strip().lower()
    owns = frozenset(d.id for d in departments.values() if email in {o.lower() for o in d.owners})
    return Person(email, is_admin=email in admins, owns=owns)


def parse_identity(value: str) -> str | None:
    """The email address an identity header names, or None when it is not exactly one well-formed address."""
    value = value.strip()
    if len(value) > EMAIL_MAX or not _ADDRESS.fullmatch(value):
        return None
    return value.lower()


def trusted(remote_addr: str | None, proxies: list[str]) -> bool:
    if not remote_addr:
        return False
    try:
        addr = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    for p in proxies:
        try:
            if addr in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


#: The demo identities of dev mode, so a new user can try the whole loop.
DEMO_EMPLOYEE = "alex.employee@meridian.example"
DEMO_ADMIN = "kb.admin@meridian.example"


def demo_people(departments: dict[str, Department]) -> dict[str, str]:
    """role -> email for the dev switcher: employee, the first owner of a department, admin."""
    people = {"employee": DEMO_EMPLOYEE, "admin": DEMO_ADMIN}
    for d in sorted(departments.values(), key=lambda d: d.id):
        if d.owners:
            people["owner"] = d.owners[0]
            break
    return people
