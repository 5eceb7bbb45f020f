"""The usage page's Budgets section: each budget's status in its current period, a form to
add or change one, remove, the over-budget policy for chat, and the recent alerts.

Changes run as button callbacks (before the script reruns), so the statuses drawn in the
same run already include them. Every call passes the signed-in admin; the service checks it.
A one-person budget picks the person from the accounts, so it always names someone who
can sign in and spend.
"""

from __future__ import annotations

import streamlit as st

from chatbot.auth import Actor
from chatbot.errors import InputError
from chatbot.services.budgets.rules import ADJECTIVE, usd
from chatbot.services.budgets import PERIODS, POLICIES, BudgetService, BudgetStatus

from . import state

POLICY_LABELS = {"warn": "Carry on, with a warning", "stop": "Stop: refuse new messages"}
PERIOD_LABELS = {"day": "Daily (UTC day)", "month": "Monthly (UTC month)"}
SCOPE_LABELS = {"everyone": "Everyone together", "user": "One user"}
# Level -> how it is drawn: the 50/80/100 % alerts as info, warning and error.
LEVELS = {
    50: (st.info, ":material/info:", "Half of it is spent."),
    80: (st.warning, ":material/warning:", "80 % reached."),
    100: (st.error, ":material/block:", "Used up."),
}
RULES = (
    "Budgets count the cost of every API call in the calendar day or month (UTC): a user's "
    "budget counts that user's calls, everyone's counts all of them. Alerts are raised at "
    "50, 80 and 100 %, once per period. Over budget, everything but chat stops; chat follows "
    "the policy below. Calls to a model with no price on file cannot be added up: they are "
    "counted and named beside the budget, and the real spend is higher than shown."
)


def budget_section(budgets: BudgetService, admin: Actor, people: list[str]) -> None:
    """`people`: the usernames a one-person budget can be for."""
    st.subheader("Budgets", anchor=False)
    state.show_flash()
    statuses = budgets.statuses(admin)
    policy = budgets.policy(admin)
    if not statuses:
        st.caption("No budgets yet: spending is not capped. Add one under Manage budgets.")
    for status in statuses:
        _status_row(budgets, admin, status, policy)
    # Collapsed: the page is for reading usage first; managing budgets is one click away.
    with st.expander("Manage budgets", icon=":material/savings:"):
        st.caption(RULES)
        _budget_form(budgets, admin, people)
        _policy_picker(budgets, admin, policy)
        _alerts_table(budgets, admin)


def _status_row(budgets: BudgetService, admin: Actor, status: BudgetStatus, policy: str) -> None:
    now = budgets.clock()
    bar, remove = st.columns([4, 1], vertical_alignment="center")
    with bar:
        st.progress(
            min(status.fraction, 1.0),
            text=f"**{status.label}**: {status.figures()}; resets {status.resets(now)}",
        )
        if status.level in LEVELS:
            draw, icon, text = LEVELS[status.level]
            if status.level >= 100:
                chat = "carries on with a warning" if policy == "warn" else "is refused too"
                text += f" Work other than chat is refused and chat {chat} until it resets."
            draw(text, icon=icon)
    remove.button(
        "Remove",
        key=f"budget-remove-{status.budget_id}",
        icon=":material/delete:",
        on_click=_remove,
        args=(budgets, admin, status),
        help=f"Lift {status.name}; its alerts go with it.",
    )


def _remove(budgets: BudgetService, admin: Actor, status: BudgetStatus) -> None:
    # remove_budget returns None: `or True` tells success apart from a refused attempt.
    if state.attempt(lambda: budgets.remove_budget(admin, status.budget_id) or True):
        state.flash("success", f"Removed {status.name}.")


def _budget_form(budgets: BudgetService, admin: Actor, people: list[str]) -> None:
    with st.form("budget-form", border=True):
        st.markdown("**Add or change a budget**")
        scope, period, limit = st.columns(3)
        scope.radio(
            "For", tuple(SCOPE_LABELS), format_func=SCOPE_LABELS.get, key="budget-scope"
        )
        scope.selectbox(
            "User", people, index=None, key="budget-user", placeholder="Choose an account",
            help="Only for a one-user budget: the people who have an account (Admin → Users).",
        )
        period.selectbox("Period", PERIODS, format_func=PERIOD_LABELS.get, key="budget-period")
        # No max_value: a typo like 1000000000 gets the service's message, not a clamp.
        limit.number_input(
            "Limit (USD)", min_value=0.0, value=10.0, step=1.0, format="%.2f", key="budget-limit"
        )
        st.form_submit_button(
            "Save budget", icon=":material/save:", on_click=_save, args=(budgets, admin)
        )


def _save(budgets: BudgetService, admin: Actor) -> None:
    values = st.session_state
    one_user = values["budget-scope"] == "user"
    user = (values.get("budget-user") or "").strip()

    def save() -> BudgetStatus:
        if one_user and not user:
            raise InputError(
                "Choose the person for a one-user budget, or choose Everyone together."
            )
        return budgets.set_budget(
            admin,
            user=user if one_user else "",
            period=values["budget-period"],
            limit_usd=values["budget-limit"],
        )

    saved = state.attempt(save)
    if saved is not None:
        state.flash("success", f"Saved: {saved.name} is {usd(saved.limit_usd)}.")


def _policy_picker(budgets: BudgetService, admin: Actor, policy: str) -> None:
    # Seeded from the database, not passed as `index`: a keyed widget keeps its own value.
    st.session_state.setdefault("budget-policy", policy)
    st.radio(
        "When a budget is used up, chat should…",
        POLICIES,
        format_func=POLICY_LABELS.get,
        key="budget-policy",
        horizontal=True,
        on_change=_set_policy,
        args=(budgets, admin),
        help="Work other than chat always stops at 100 %.",
    )


def _set_policy(budgets: BudgetService, admin: Actor) -> None:
    chosen = st.session_state["budget-policy"]
    state.attempt(
        lambda: budgets.set_policy(admin, chosen),
        success=f"Over budget, chat will now: {POLICY_LABELS[chosen].lower()}.",
    )


def _alerts_table(budgets: BudgetService, admin: Actor) -> None:
    found = budgets.alerts(admin, limit=20)
    if not found:
        st.caption("No budget alerts yet.")
        return
    st.markdown("**Recent alerts**")
    st.dataframe(
        [
            {
                "when (UTC)": a.created_at.strftime("%Y-%m-%d %H:%M"),
                "budget": f"{ADJECTIVE[a.period]}, {a.scope}",
                "period from": a.period_start.strftime("%Y-%m-%d"),
                "reached": f"{a.threshold} %",
                "spent (USD)": round(a.spent_usd, 4),
                "limit (USD)": round(a.limit_usd, 4),
            }
            for a in found
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "spent (USD)": st.column_config.NumberColumn(format="$%.4f"),
            "limit (USD)": st.column_config.NumberColumn(format="$%.2f"),
        },
    )
