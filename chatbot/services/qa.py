"""The QA workspace: find conversations, read them with everything recorded per reply,
rate replies, add notes and tags, and keep the golden set of regression cases.

    qa = QAService(engine, personas, access=identity.access)
    page = qa.find(actor, SearchFilters(text="refund", tags=("billing",)), page=0)
    view = qa.transcript(actor, page.rows[0].id)  # read-only: prompt, tokens, cost, feedback ...
    qa.tag(actor, view.id, "Billing ")            # stored as "billing", by actor.username
    qa.rate(actor, view.messages[1].id, 1)        # the chat page's thumbs; None takes it back
    qa.set_golden(actor, view.id, True, note="refund policy")

Reading needs "qa.read" and annotating (notes, tags, the golden set) "qa.annotate": an
agent is refused (`AccessDenied`, recorded) before anything is read or written. Every
method returns frozen dataclasses (never ORM rows) and raises only the project's errors:
`InputError` for what a person typed, `NotFoundError` for ids that are gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import Engine

from chatbot import store
from chatbot.auth import Actor
from chatbot.auth.audit import AuditLog
from chatbot.auth.policy import Access
from chatbot.errors import InputError, NotFoundError
from chatbot.store import qa as qa_store
from chatbot.store.qa_records import (
    distinct_owners,
    load_records,
    persona_versions_used,
)
from chatbot.store.search import QueryError, SearchFilters, SearchPage, search_conversations, search_ids

from .personas import PersonaService
from .qa_views import (
    AnnotationView,
    FeedbackView,
    GoldenView,
    TranscriptView,
    annotation_view,
    feedback_view,
    golden_view,
    transcript_view,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_EXPORT = 10_000  # conversations in one filtered export


class QAService:
    """The QA page's use cases; see the module docstring."""

    def __init__(self, engine: Engine, personas: PersonaService, *, access: Access | None = None) -> None:
        self.engine = engine
        self.personas = personas
        self.access = access or Access(AuditLog(engine))

    # -- finding ---------------------------------------------------------------------------

    def find(
        self, actor: Actor, filters: SearchFilters, page: int = 0, *, page_size: int = PAGE_SIZE
    ) -> SearchPage:
        """Page `page` (from 0) of the conversations matching; `total` counts them all."""
        self.access.require(actor, "qa.read")
        if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InputError(f"Pages start at 0 and hold 1 to {MAX_PAGE_SIZE} conversations.")
        filters = _clean_filters(filters)
        with _translated(), store.read_session(self.engine) as session:
            return search_conversations(
                session=session, filters=filters, limit=page_size, offset=page * page_size
            )

    def matching_ids(self, actor: Actor, filters: SearchFilters, *, limit: int = MAX_EXPORT) -> list[int]:
        """Every conversation the filters match, in page order (for exporting a set)."""
        self.access.require(actor, "qa.read")
        filters = _clean_filters(filters)
        with _translated(), store.read_session(self.engine) as session:
            return search_ids(session=session, filters=filters, limit=limit)

    def transcript(self, actor: Actor, conversation_id: int) -> TranscriptView:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            records = load_records(session=session, conversation_ids=[conversation_id])
        self._check(actor, records[0].conversation if records else None, conversation_id)
        return transcript_view(records[0], self.personas)

    # -- pickers for the filters -----------------------------------------------------------

    def tags(self, actor: Actor) -> list[tuple[str, int]]:
        """Every tag in use, with how many conversations carry it."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return qa_store.all_tags(session=session)

    def owners(self, actor: Actor) -> list[str]:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return distinct_owners(session=session)

    def personas_used(self, actor: Actor) -> dict[str, list[int]]:
        """Persona keys on conversations, each with its version numbers (newest first)."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return persona_versions_used(session=session)

    # -- feedback ----------------------------------------------------------------------------

    def rate(
        self, actor: Actor, message_id: int, rating: int | None, comment: str | None = None
    ) -> FeedbackView | None:
        """Thumbs up (1) or down (-1) on a reply in a conversation `actor` may change
        (their own; an admin's: any), replacing their earlier rating; None takes the rating
        back (st.feedback cleared). Another person's reply is "not found", as a gone one."""
        self.access.require(actor, "chat")
        with store.read_session(self.engine) as session:
            message = store.get_message(session=session, message_id=message_id)
            parent = (store.get_conversation(session=session, conversation_id=message.conversation_id)
                      if message is not None else None)
        self.access.conversation(actor, parent, write=True)
        owner = actor.username
        with _translated(), store.write_session(self.engine) as session:
            if rating is None:
                qa_store.remove_feedback(session=session, message_id=message_id, owner=owner)
                return None
            row = qa_store.set_feedback(
                session=session, message_id=message_id, owner=owner, rating=rating, comment=comment
            )
            return feedback_view(row)

    def ratings(self, actor: Actor, conversation_id: int) -> dict[int, FeedbackView]:
        """The actor's own ratings in a conversation they may read, by message id (to show
        st.feedback's state)."""
        with store.read_session(self.engine) as session:
            self.access.conversation(actor, store.get_conversation(session=session, conversation_id=conversation_id))
            rows = qa_store.conversation_feedback(
                session=session, conversation_id=conversation_id, owner=actor.username
            )
        return {row.message_id: feedback_view(row) for row in rows}

    # -- notes and tags ----------------------------------------------------------------------

    def note(
        self, actor: Actor, conversation_id: int, text: str, *, message_id: int | None = None
    ) -> AnnotationView:
        return self._annotate(actor, conversation_id, qa_store.NOTE, text, message_id)

    def tag(
        self, actor: Actor, conversation_id: int, tag: str, *, message_id: int | None = None
    ) -> AnnotationView:
        """Tags are stored trimmed and lowercased; tagging twice keeps one."""
        return self._annotate(actor, conversation_id, qa_store.TAG, tag, message_id)

    def untag(
        self, actor: Actor, conversation_id: int, tag: str, *, message_id: int | None = None
    ) -> bool:
        self.access.require(actor, "qa.annotate")
        self._readable(actor, conversation_id)
        with _translated(), store.write_session(self.engine) as session:
            return qa_store.remove_tag(
                session=session, conversation_id=conversation_id, tag=tag, message_id=message_id
            )

    def remove_annotation(self, actor: Actor, annotation_id: int) -> bool:
        """Delete a note (or a tag) by its id; False if it was already gone."""
        self.access.require(actor, "qa.annotate")
        with store.read_session(self.engine) as session:
            annotation = qa_store.get_annotation(session=session, annotation_id=annotation_id)
        if annotation is None:
            return False
        self._readable(actor, annotation.conversation_id)
        with store.write_session(self.engine) as session:
            return qa_store.remove_annotation(session=session, annotation_id=annotation_id)

    def _annotate(
        self, actor: Actor, conversation_id: int, kind: str, text: str, message_id: int | None
    ) -> AnnotationView:
        self.access.require(actor, "qa.annotate")
        self._readable(actor, conversation_id)
        with _translated(), store.write_session(self.engine) as session:
            row = qa_store.add_annotation(
                session=session,
                conversation_id=conversation_id,
                kind=kind,
                text=text,
                created_by=actor.username,
                message_id=message_id,
            )
            return annotation_view(row)

    # -- the golden set ----------------------------------------------------------------------

    def set_golden(
        self, actor: Actor, conversation_id: int, golden: bool, *, note: str | None = None
    ) -> bool:
        """Add the conversation to the golden set (or take it out); returns whether it is in."""
        self.access.require(actor, "qa.annotate")
        self._readable(actor, conversation_id)
        with _translated(), store.write_session(self.engine) as session:
            if golden:
                qa_store.add_golden(
                    session=session, conversation_id=conversation_id, added_by=actor.username, note=note
                )
            else:
                qa_store.remove_golden(session=session, conversation_id=conversation_id)
        return golden

    def is_golden(self, actor: Actor, conversation_id: int) -> bool:
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            return qa_store.is_golden(session=session, conversation_id=conversation_id)

    def golden_conversations(self, actor: Actor) -> list[GoldenView]:
        """Newest first."""
        self.access.require(actor, "qa.read")
        with store.read_session(self.engine) as session:
            found = qa_store.list_golden_conversations(session=session)
        return [golden_view(conversation, case) for case, conversation in found]

    def _readable(self, actor: Actor, conversation_id: int) -> None:
        """Refuse a conversation the actor may not read, before any write transaction (a
        refusal is audited in a transaction of its own, which would wait on ours for
        SQLite's write lock). Annotating asks for read access: a note or a tag is QA's,
        not a change to the conversation (which QA may not make)."""
        with store.read_session(self.engine) as session:
            row = store.get_conversation(session=session, conversation_id=conversation_id)
        self._check(actor, row, conversation_id)

    def _check(self, actor: Actor, row: store.Conversation | None, conversation_id: int) -> None:
        """One message for a missing conversation and a hidden one."""
        message = f"Conversation {conversation_id} does not exist (it may have been deleted)."
        self.access.conversation(actor, row, message=message)


def _clean_filters(filters: SearchFilters) -> SearchFilters:
    """Tags compare normalised, as stored; a bad tag is an InputError, not "no results"."""
    if not filters.tags:
        return filters
    with _translated():
        tags = tuple(dict.fromkeys(qa_store.normalize_tag(t) for t in filters.tags))
    return replace(filters, tags=tags)


@contextmanager
def _translated() -> Iterator[None]:
    """The store's errors, as messages a person reads (the boundary of this service)."""
    try:
        yield
    except (qa_store.QAInputError, QueryError) as error:
        raise InputError(str(error)) from None
    except store.NotFoundError as error:
        text = str(error)
        raise NotFoundError(text[:1].upper() + text[1:] + " (it may have been deleted).") from None
