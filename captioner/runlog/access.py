"""Who is reading or writing the run log, and what they may see.

Every read and write that a page handler can reach takes an :class:`Access` (a required
keyword argument, never a global), so a handler cannot forget the scope:

- ``Access.visitor(session_id)``: a public visitor. Owns the runs it records; sees, rates and
  exports only those, and only its own ratings on them. Anything else raises ``RunNotFound``
  with the same words as a run that does not exist, so nothing tells a visitor that another
  run exists. The session id is stored as a digest, never as is (in Gradio the raw
  ``session_hash`` is what joins a queue).
- ``Access.reviewer(login)``: an authenticated reviewer (OAuth or password login). Sees every
  run and rating; ratings are recorded under the login name.
- ``Access.cli(user)``: the command line and batch, run by someone who can read the database
  file anyway. Sees everything; runs are owned by ``cli:<user>``, ratings carry ``user``.

Runs recorded before owners existed (schema v2) have no owner: reviewers see them, visitors
never do. Enforcing the mode (who gets which Access) is the page's job; this module only
says what each Access may touch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from captioner.errors import InvalidRequest

_SESSION_DIGEST_CHARS = 24  # 96 bits: no collisions among a Space's visitors


@dataclass(frozen=True)
class Access:
    owner: str | None  # stored as the owner of runs recorded with this access
    rater: str  # stored as the reviewer of ratings given with this access
    sees_all: bool  # False: only runs owned by ``owner`` exist, only ratings by ``rater``

    def __post_init__(self) -> None:
        if not self.sees_all and not self.owner:
            raise _no_session()  # a scope of "no owner" would match every pre-v3 run

    @classmethod
    def visitor(cls, session_id: str | None) -> Access:
        """A public visitor, known only by the browser session."""
        session = (session_id or "").strip()
        if not session:
            raise _no_session()
        digest = hashlib.sha256(f"captioner-session:{session}".encode()).hexdigest()
        owner = f"session:{digest[:_SESSION_DIGEST_CHARS]}"
        return cls(owner=owner, rater=owner, sees_all=False)

    @classmethod
    def reviewer(cls, login: str | None) -> Access:
        """An authenticated reviewer: ``login`` comes from the login, never from a text box."""
        name = (login or "").strip()
        if not name:
            raise InvalidRequest("리뷰어 로그인이 필요합니다.", "A reviewer login is required.")
        return cls(owner=f"user:{name}", rater=name, sees_all=True)

    @classmethod
    def cli(cls, user: str | None = None) -> Access:
        """The command line and batch runs on this machine."""
        name = (user or "").strip()
        return cls(owner=f"cli:{name}" if name else "cli", rater=name, sees_all=True)

    # SQL fragments for the store; parameters, never formatted values
    def runs_where(self, table: str = "runs") -> tuple[str, list[str]]:
        """A condition limiting ``table`` (the runs table or its alias) to what this access
        sees; ``("", [])`` when it sees everything."""
        if self.sees_all:
            return "", []
        return f"{table}.owner = ?", [self.owner or ""]

    def ratings_where(self, table: str = "ratings") -> tuple[str, list[str]]:
        """The same for ratings: a visitor sees only its own."""
        if self.sees_all:
            return "", []
        return f"{table}.reviewer = ?", [self.rater]


def _no_session() -> InvalidRequest:
    return InvalidRequest(
        "세션을 알 수 없어 실행 기록에 접근할 수 없습니다.",
        "Unknown session: the run log cannot be reached.",
    )


def check(access: object) -> Access:
    """``access`` itself; a TypeError for anything else (a forgotten or wrong argument)."""
    if not isinstance(access, Access):
        raise TypeError(f"access must be a runlog.Access, not {type(access).__name__}")
    return access
