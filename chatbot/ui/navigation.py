"""The pages each role sees. Every page's address stays registered for everyone, so a
page opened by URL that the role lacks says so (and shows nothing else) instead of
falling back to another page; before sign-in every address shows the sign-in page.
Access itself is enforced by the services: this is only what is listed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from chatbot.auth import Actor, can

from .gate import current_actor
from .resources import get_runtime


@dataclass(frozen=True)
class PageDef:
    section: str
    path: str
    title: str
    icon: str
    permission: str

    @property
    def url_path(self) -> str:
        return self.path.removeprefix("pages/").removesuffix(".py")

    @property
    def file(self) -> Path:
        return ROOT / self.path


# The project root: pages/ is there, beside (not under) the router's folder.
ROOT = Path(__file__).resolve().parents[2]


PAGES = (
    PageDef("Support", "pages/chat.py", "Chat", ":material/chat:", "chat"),
    PageDef("QA", "pages/qa_conversations.py", "Conversations", ":material/manage_search:", "qa.read"),
    PageDef("QA", "pages/qa_replays.py", "Replays", ":material/replay:", "replays.run"),
    PageDef("QA", "pages/qa_checks.py", "Checks", ":material/rule:", "checks.manage"),
    PageDef("Admin", "pages/personas.py", "Personas", ":material/badge:", "personas.edit"),
    PageDef("Admin", "pages/usage.py", "Usage", ":material/monitoring:", "usage.read"),
    PageDef("Admin", "pages/users.py", "Users", ":material/group:", "users.manage"),
    PageDef("Admin", "pages/audit.py", "Audit log", ":material/policy:", "audit.read"),
)
SECTIONS = ("Support", "QA", "Admin")


def page_file(url_path: str) -> Path:
    """The file of a page, for `st.switch_page` and `st.page_link` (the router is not
    beside `pages/`, so a path relative to it would not do)."""
    return next(p.file for p in PAGES if p.url_path == url_path)


def _no_access(page: PageDef) -> Callable[[], None]:
    def no_access() -> None:
        # A page asked for by address that the role lacks is a refusal like any other.
        get_runtime().identity.audit.refusal(current_actor(), "access.denied", target=f"page:{page.url_path}",
                                             detail=page.permission)
        st.title(page.title, anchor=False)
        st.error("You have no access to this page. Ask an admin if you need it.", icon=":material/block:")

    no_access.__name__ = f"no_access_{page.url_path}"
    return no_access


def _placeholder(page: PageDef, draw: Callable[[], None]) -> Callable[[], None]:
    def sign_in() -> None:
        draw()

    sign_in.__name__ = f"sign_in_{page.url_path}"
    return sign_in


def pages_for(actor: Actor) -> dict[str, list[st.Page]]:
    """The navigation for `actor`: their pages listed by section, the rest hidden."""
    allowed = [p for p in PAGES if can(actor, p.permission)]
    default = allowed[0] if allowed else None
    sections: dict[str, list[st.Page]] = {s: [] for s in SECTIONS}
    hidden: list[st.Page] = []
    for page in PAGES:
        if page in allowed:
            is_default = page == default
            # The default page is served at "/" and still answers at its own name (/chat).
            sections[page.section].append(st.Page(
                page.file, title=page.title, icon=page.icon, default=is_default,
                url_path=None if is_default else page.url_path,
            ))
        else:
            hidden.append(st.Page(_no_access(page), title=page.title, icon=page.icon,
                                  url_path=page.url_path, visibility="hidden"))
    listed = {name: items for name, items in sections.items() if items}
    if hidden:  # st.navigation wants every page in a section; hidden ones show in none
        first = next(iter(listed))
        listed[first] = listed[first] + hidden
    return listed


def anonymous_pages(draw: Callable[[], None]) -> list[st.Page]:
    """Before sign-in: every address draws the sign-in page, so after signing in the
    browser is on the page it asked for."""
    # "/" and every page's own address (the default page's name does not answer by itself).
    home = st.Page(_placeholder(PAGES[0], draw), title="Sign in", default=True, visibility="hidden")
    return [home] + [
        st.Page(_placeholder(page, draw), title="Sign in", url_path=page.url_path, visibility="hidden")
        for page in PAGES
    ]
