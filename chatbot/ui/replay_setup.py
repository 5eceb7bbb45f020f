"""The Replays page's "New run" panel: what to replay, against what, graded by which
checks, live or offline; the estimate and the budget before anything is sent; Start; and
the one-click golden-set replay of a persona's unpublished draft."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from chatbot.auth import Actor
from chatbot.errors import ChatbotError
from chatbot.services.checks_service import CheckDef
from chatbot.services.personas import PersonaSummary
from chatbot.services.replay import ReplayTarget
from chatbot.services.runtime import Runtime

from . import qa_state, state
from .persona_editor import model_choices
from .qa_text import count
from .usage_panels import money

SELECTED_RUN = "qa_replay_run"  # the run whose results are shown
SOURCES = {
    "handed": "Conversations picked on the Conversations page",
    "golden": "The golden set",
    "typed": "Conversation ids I type",
}
MODES = {
    "live": "Live (now, full price)",
    "offline": "Offline (Message Batches: half price, results within 24 h)",
}
MODE_HELP = (
    "Live sends each turn now, a few at a time, at the list price. Offline submits every turn "
    "as one Message Batch: half the price, but the provider answers within 24 hours (often "
    "much sooner), so use it for large runs that can wait. Either way the results look the same."
)


@dataclass(frozen=True)
class Source:
    conversation_ids: list[int]
    problem: str | None = None  # why nothing can be replayed yet


def parse_ids(text: str) -> list[int]:
    """ "12, 15 40" -> [12, 15, 40]; a ValueError naming the first thing that is not an id."""
    ids = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        if not part.lstrip("#").isdigit():
            raise ValueError(f"{part!r} is not a conversation id: type numbers like 12, 15, 40.")
        ids.append(int(part.lstrip("#")))
    return list(dict.fromkeys(ids))


def _clear_handed_over() -> None:
    st.session_state.pop(qa_state.REPLAY_IDS, None)


def source_picker(golden: Sequence[int]) -> Source:
    handed = [int(i) for i in st.session_state.get(qa_state.REPLAY_IDS) or []]
    choices = (["handed"] if handed else []) + ["golden", "typed"]
    kind = st.radio("Replay", choices, format_func=SOURCES.get, key="replay-source", horizontal=True)
    if kind == "handed":
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.caption(f"{count(len(handed), 'conversation')} handed over: "
                     + ", ".join(f"#{i}" for i in handed[:20]) + (" …" if len(handed) > 20 else ""))
        right.button("Clear", key="replay-clear-ids", icon=":material/clear:", on_click=_clear_handed_over,
                     help="Forget the conversations picked on the Conversations page.")
        return Source(handed)
    if kind == "golden":
        if not golden:
            return Source([], "The golden set is empty: mark conversations as regression cases "
                              "on the Conversations page first.")
        st.caption(f"{count(len(golden), 'conversation')} in the golden set.")
        return Source(list(golden))
    typed = st.text_input("Conversation ids", key="replay-typed-ids", placeholder="12, 15, 40")
    try:
        ids = parse_ids(typed)
    except ValueError as error:
        return Source([], str(error))
    return Source(ids, None if ids else "Type the ids of the conversations to replay.")


def _version_label(number: int | None, versions: dict[int, bool]) -> str:
    if number is None:
        return "newest version"
    return f"v{number} · {'published' if versions[number] else 'draft'}"


def target_picker(runtime: Runtime, actor: Actor, summaries: Sequence[PersonaSummary]) -> ReplayTarget:
    personas = {p.key: p.name for p in summaries}
    left, middle, right = st.columns(3)
    persona = left.selectbox(
        "Persona", [None, *personas], key="replay-persona",
        format_func=lambda k: "Same as each conversation" if k is None else f"{personas[k]} ({k})",
        help="Replay against another persona version; by default each conversation keeps its own.",
    )
    version = None
    if persona is not None:
        versions = {v.number: v.published for v in runtime.personas.versions(actor, persona)}
        version = middle.selectbox(
            "Version", list(versions), key=f"replay-version-{persona}",
            format_func=lambda n: _version_label(n, versions),
            help="Drafts are included: replay one before publishing it.",
        )
    else:
        middle.selectbox("Version", ["Same as each conversation"], disabled=True, key="replay-version-none")
    model = right.selectbox(
        "Model", [None, *model_choices(runtime)], key="replay-model",
        format_func=lambda m: "Same as the persona version" if m is None else m,
    )
    return ReplayTarget(persona, version, model)


def check_picker(library: Sequence[CheckDef]) -> list[int]:
    checks = {c.id: c for c in library}
    if not checks:
        st.caption("No checks yet: define some on the Checks page to grade the replayed replies.")
        return []
    return st.multiselect(
        "Checks", list(checks), key="replay-checks",
        format_func=lambda i: f"{checks[i].name} ({checks[i].label})",
        help="Each replayed reply is graded by these; pass rates are counted per persona version.",
    )


def mode_picker() -> str:
    return st.radio("How to send it", list(MODES), format_func=MODES.get, key="replay-mode", help=MODE_HELP)


def estimate_panel(
    runtime: Runtime, actor: Actor, source: Source, target: ReplayTarget, mode: str = "live"
) -> bool:
    """Shows what the run would send and cost, and the budget; True when it may start."""
    if source.problem:
        st.info(source.problem, icon=":material/info:")
        return False
    try:
        estimate = runtime.replays.preview(actor, source.conversation_ids, target, mode=mode)
    except ChatbotError as error:
        st.error(error.user_message, icon=":material/error:")
        return False
    turns, sent, answered, cost = st.columns(4)
    turns.metric("Turns to replay", f"{estimate.turns:,}", border=True)
    sent.metric("Input tokens (est.)", f"{estimate.input_tokens:,}", border=True)
    answered.metric("Output tokens (est.)", f"{estimate.output_tokens:,}", border=True,
                    help="The original replies' lengths, or the persona's max_tokens when unknown.")
    prices = "At batch prices, half the list prices." if mode == "offline" else "At list prices."
    cost.metric("Cost (est.)", money(estimate.cost_usd, "unpriced model"), border=True,
                help=f"{prices} 'unpriced model': a model it uses has no price on file.")
    if estimate.cost_usd is None:
        st.warning("A model this run uses has no price on file: its cost cannot be estimated "
                   "or counted against budgets.", icon=":material/warning:")
    if not estimate.turns:
        st.info("These conversations have no replies to replay yet.", icon=":material/info:")
        return False
    return budget_notice(runtime, actor)


def budget_notice(runtime: Runtime, actor: Actor) -> bool:
    """The budget that applies to replays: a refusal (st.error, False) or a warning."""
    try:
        warning = runtime.budgets.check("replay", actor.username)
    except ChatbotError as error:
        st.error(f"Over budget: {error.user_message}", icon=":material/block:")
        return False
    if warning:
        st.warning(warning, icon=":material/savings:")
    return True


def _start(
    runtime: Runtime, actor: Actor, ids: list[int], target: ReplayTarget, checks: list[int], label: str,
    mode: str = "live",
) -> None:
    done = ("The replay has started; its progress is below." if mode == "live" else
            "The replay was submitted as a Message Batch; its progress is below (results within 24 h).")
    run_id = state.attempt(
        lambda: runtime.replays.start(actor, ids, target, checks, label=label, mode=mode), done,
    )
    if run_id is not None:
        st.session_state[SELECTED_RUN] = run_id


def _start_golden(
    runtime: Runtime, actor: Actor, key: str, number: int, checks: list[int], model: str | None,
    mode: str = "live",
) -> None:
    run_id = state.attempt(
        lambda: runtime.replays.replay_golden(actor, key, number, check_ids=checks, model=model, mode=mode),
        f"The golden set is replaying against {key} v{number}.",
    )
    if run_id is not None:
        st.session_state[SELECTED_RUN] = run_id


def new_run_panel(runtime: Runtime, actor: Actor) -> None:
    # Read before drawing: a role refused here sees nothing of the panel.
    library = runtime.checks.list(actor)
    golden = [g.conversation_id for g in runtime.qa.golden_conversations(actor)]
    personas = runtime.personas.list(actor)
    with st.container(border=True):
        st.subheader("New run", anchor=False)
        source = source_picker(golden)
        target = target_picker(runtime, actor, personas)
        checks = check_picker(library)
        label = st.text_input("Label (optional)", key="replay-label", placeholder=f"Replay on {target.describe()}",
                              max_chars=120)
        mode = mode_picker()
        ready = estimate_panel(runtime, actor, source, target, mode)
        st.button(
            "Start replay", key="replay-start", type="primary", icon=":material/play_arrow:", disabled=not ready,
            on_click=_start, args=(runtime, actor, source.conversation_ids, target, checks, label, mode),
        )
        golden_drafts(runtime, actor, personas, golden, checks, target.model, mode)


def golden_drafts(
    runtime: Runtime, actor: Actor, personas: Sequence[PersonaSummary], golden: Sequence[int],
    checks: list[int], model: str | None, mode: str = "live",
) -> None:
    """One button per persona whose newest version is an unpublished draft."""
    drafts = [p for p in personas
              if p.latest_version and p.latest_version != p.published_version]
    if not drafts:
        return
    st.markdown("**Before publishing a draft**")
    if not golden:
        st.caption("Mark conversations as golden (regression cases) on the Conversations page "
                   "to replay them against a draft in one click.")
        return
    for persona in drafts:
        st.button(
            f"Replay the golden set against {persona.name} draft v{persona.latest_version}",
            key=f"replay-golden-{persona.key}", icon=":material/fact_check:",
            help=f"{len(golden)} golden conversations, with the checks chosen above"
                 + (f", on {model}" if model else "") + (", offline." if mode == "offline" else "."),
            on_click=_start_golden,
            args=(runtime, actor, persona.key, persona.latest_version, checks, model, mode),
        )
