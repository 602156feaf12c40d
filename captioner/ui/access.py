"""Who is asking, decided on the server for every request: the page's access model.

Three modes (``Settings.review_mode``; ``auto`` picks one, see :func:`mode`):

- ``public`` — a public demo (a Space without review configuration, or a page served to the
  network without a password): every visitor is ``Access.visitor(session)``; they see and
  rate only the runs of their own browser session. No listing, export or comparison of
  anyone else's runs, through any endpoint: the run log applies the scope in SQL.
- ``private`` — a review deployment: reviewers log in (Gradio's login with
  ``--review-password`` / ``CAPTIONER_REVIEWERS`` locally, Hugging Face OAuth on a Space,
  restricted to the organisation in ``CAPTIONER_REVIEW_ORG``) and see everything; their
  ratings carry their login name. Anyone not logged in is a visitor as above.
- ``local`` — the page on 127.0.0.1 for the person at this machine: everything, ratings
  under this machine's user name (only loopback clients can reach it).

Nothing here trusts what a client sends: the mode comes from the settings, the identity
from gradio's request (its session, its authenticated user) or the OAuth profile.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

from captioner.runlog import Access
from captioner.settings import Settings

MODES = ("public", "private", "local")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def mode(settings: Settings) -> str:
    """The mode in force: the configured one, or for ``auto``: private where logins are
    configured, public on a Space or a page served to the network, local otherwise."""
    if settings.review_mode in MODES:
        return settings.review_mode
    if settings.reviewers or settings.review_org:
        return "private"
    if settings.on_space or settings.host not in LOOPBACK:
        return "public"
    return "local"


def for_request(
    settings: Settings,
    request: Any,
    profile: Any = None,
    member: Callable[[Any], bool] | None = None,
) -> Access:
    """The access of one request. ``request`` is gradio's ``gr.Request`` (its
    ``session_hash`` and, behind Gradio's login, ``username``); ``profile`` the OAuth
    profile on a Space; ``member(profile)`` whether it belongs to the review organisation."""
    session = getattr(request, "session_hash", None) or "anonymous"
    current = mode(settings)
    if current == "local":
        return Access.reviewer(_local_user())
    if current == "private":
        login = getattr(request, "username", None)
        if login and settings.reviewers:
            return Access.reviewer(login)  # Gradio checked the password
        name = getattr(profile, "username", None) or getattr(profile, "preferred_username", None)
        if name and settings.review_org and member is not None and member(profile):
            return Access.reviewer(name)
    return Access.visitor(session)


def check_login(settings: Settings) -> Callable[[str, str], bool] | None:
    """Gradio's ``auth`` for a private page served with passwords (None otherwise)."""
    if mode(settings) != "private" or not settings.reviewers:
        return None
    reviewers = dict(settings.reviewers)

    def allowed(username: str, password: str) -> bool:
        import hmac

        expected = reviewers.get(username, reviewers.get("*"))
        return expected is not None and hmac.compare_digest(expected, password)

    return allowed


def org_member(settings: Settings, token: Any) -> bool:
    """Whether the OAuth user belongs to ``settings.review_org`` (asked from the Hub with the
    user's own token; False when the Hub cannot be asked)."""
    if not settings.review_org or token is None:
        return False
    from huggingface_hub import whoami

    try:
        info = whoami(token=getattr(token, "token", token))
    except Exception:  # noqa: BLE001 - no answer is no membership
        return False
    orgs = {org.get("name") for org in info.get("orgs", []) if isinstance(org, dict)}
    return settings.review_org in orgs


def _local_user() -> str:
    try:
        return getpass.getuser() or "local"
    except Exception:  # noqa: BLE001 - no user name on some containers
        return "local"
