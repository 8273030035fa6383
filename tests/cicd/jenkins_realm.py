"""Who may answer a Jenkins `input`, resolved the way Jenkins does it, against the realm and matrix of casc.yaml.

Jenkins' rules (pipeline-input-step, InputStepExecution.canSettle, and the core security realms):
- `submitter` is a comma-separated list; each entry, trimmed, is compared with the user's id (the realm's user id
  strategy) and with each of the user's authorities, i.e. group names (the realm's group id strategy).
- Without a `submitter`, anyone with Job/Build on the job may answer.
- A user with Overall/Administer may always answer, whatever the list says.
- The local user database (`securityRealm: local`, HudsonPrivateSecurityRealm) has users only: every logged-in
  user's sole authority is the built-in `authenticated`. Its user and group ids compare case-insensitively.
- The input step does not look at who started the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

AUTHENTICATED = "authenticated"
_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def casc_value(text: str, env: dict[str, str] | None = None) -> str:
    """A casc.yaml value as JCasC resolves it at startup: ${VAR} from `env`, else its `:-default`."""
    env = env or {}

    def sub(m: re.Match[str]) -> str:
        if m[1] in env:
            return env[m[1]]
        if m[2] is None:
            raise ValueError(f"{text!r}: ${{{m[1]}}} has no default and is not given")
        return m[2]

    return _DEFAULTED.sub(sub, text)


@dataclass(frozen=True)
class Realm:
    kind: str
    users: frozenset[str]  # ids, as the realm stores them
    groups: dict[str, frozenset[str]]  # user id (lower case) -> the authorities the realm gives that user
    admins: frozenset[str]  # lower-case user ids that hold Overall/Administer
    builders: frozenset[str]  # lower-case user ids that hold Job/Build

    @classmethod
    def from_casc(cls, casc: dict[str, Any], env: dict[str, str] | None = None) -> Realm:
        jenkins = casc["jenkins"]
        ((kind, body),) = jenkins["securityRealm"].items()
        if kind != "local":
            raise ValueError(f"securityRealm {kind!r}: this model knows the local user database only")
        users = frozenset(casc_value(str(u["id"]), env) for u in body.get("users", []))
        # HudsonPrivateSecurityRealm: no groups, only the authority every logged-in user has.
        groups = {u.lower(): frozenset({AUTHENTICATED}) for u in users}
        admins, builders = set(), set()
        for entry in jenkins["authorizationStrategy"]["globalMatrix"]["entries"]:
            ((sid_kind, grant),) = entry.items()
            name = casc_value(str(grant["name"]), env).lower()
            perms = set(grant.get("permissions", []))
            for user in users:
                holds = (sid_kind == "user" and user.lower() == name) or (
                    sid_kind == "group" and name in groups[user.lower()]
                )
                if holds and "Overall/Administer" in perms:
                    admins.add(user.lower())
                if holds and perms & {"Job/Build", "Overall/Administer"}:
                    builders.add(user.lower())
        return cls(kind, users, groups, frozenset(admins), frozenset(builders))

    def all_groups(self) -> frozenset[str]:
        return frozenset(g for gs in self.groups.values() for g in gs)

    def can_settle(self, user: str, submitter: str | None) -> bool:
        """InputStepExecution.canSettle for a logged-in `user` of this realm."""
        key = user.lower()
        if key not in self.groups:
            return False  # not a user of this realm: cannot log in
        if submitter is None:
            return key in self.builders
        if key in self.admins:
            return True
        entries = {e.strip().lower() for e in submitter.split(",")}
        return key in entries or bool(self.groups[key] & entries)

    def approvers(self, submitter: str | None) -> set[str]:
        return {u for u in self.users if self.can_settle(u, submitter)}

    def unresolved(self, submitter: str) -> list[str]:
        """Entries that name no user and no group of this realm (nobody can match them)."""
        known = {u.lower() for u in self.users} | self.all_groups()
        return [e.strip() for e in submitter.split(",") if e.strip().lower() not in known]


def approval_problems(realm: Realm, submitter: str | None) -> list[str]:
    """Why an approval gate with this `submitter` list is not a second person's decision (empty: it is).
    The rule: every entry resolves in the realm, no entry lets every logged-in user approve, and at least two
    people who are not administrators can approve (so whoever starts a deploy, someone else can approve it)."""
    if submitter is None:
        return ["no submitter: anyone who may build the job may approve"]
    problems = [
        f"submitter entry {e!r} is neither a user nor a group of the {realm.kind} realm: it matches nobody"
        for e in realm.unresolved(submitter)
    ]
    if AUTHENTICATED in {e.strip().lower() for e in submitter.split(",")}:
        problems.append("submitter `authenticated`: every logged-in user may approve")
    deciders = sorted(u for u in realm.approvers(submitter) if u.lower() not in realm.admins)
    if len(deciders) < 2:
        problems.append(
            f"only {deciders or 'administrators'} can approve besides administrators: "
            "at least two people are needed so that the approver is not the one who started the deploy"
        )
    return problems
