"""The audit log: admins read it page by page and as CSV; nobody else reads it; a
refusal flood from one client is capped; entries cannot be changed from the app."""

import csv
import io

import pytest

from chatbot.auth import AccessDenied, Actor, Role
from chatbot.auth.audit import REFUSALS_PER_MINUTE
from chatbot.store.audit import AuditFilter

pytestmark = pytest.mark.also_postgresql


def test_pages_go_back_in_time_without_gaps_or_repeats(identity, admin):
    for n in range(120):
        identity.audit.record(admin, "setting.change", target=f"setting:{n}")
    seen, before = [], None
    while True:
        page = identity.audit.page(admin, AuditFilter(action="setting.change"), before_id=before, limit=50)
        seen += [r.target for r in page.rows]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [f"setting:{n}" for n in reversed(range(120))]
    assert page.total == 120 and page.total_label == "120"


def test_filters_by_person_action_prefix_and_dates(identity, admin):
    bob = Actor("bob", Role.QA, address="10.0.0.9")
    identity.audit.record(admin, "persona.publish", target="persona:support v2")
    identity.audit.record(bob, "replay.start", target="replay:1")
    only_bob = identity.audit.page(admin, AuditFilter(actor="bob")).rows
    assert [(r.actor, r.role, r.address, r.label) for r in only_bob] == [("bob", "qa", "10.0.0.9", "Replay started")]
    personas = identity.audit.page(admin, AuditFilter(action="persona.")).rows
    assert [r.target for r in personas] == ["persona:support v2"]
    later = identity.audit.page(admin, AuditFilter(since=only_bob[0].at.replace(year=2999))).rows
    assert later == []


def test_the_csv_has_every_match_and_no_cell_a_spreadsheet_would_run(identity, admin):
    identity.audit.record(admin, "user.update", target="user:x", detail="=HYPERLINK(\"http://evil\")")
    rows = list(csv.reader(io.StringIO(identity.audit.csv(admin, AuditFilter(action="user.update")))))
    assert rows[0] == ["id", "at_utc", "actor", "role", "address", "action", "target", "detail"]
    assert rows[1][2:] == ["root-admin", "admin", "10.0.0.1", "user.update", "user:x", "'=HYPERLINK(\"http://evil\")"]


@pytest.mark.parametrize("role", [Role.AGENT, Role.QA])
def test_only_admins_read_the_log(identity, admin, role):
    reader = Actor("someone", role)
    with pytest.raises(AccessDenied):
        identity.audit.page(reader, AuditFilter())
    with pytest.raises(AccessDenied):
        identity.audit.csv(reader, AuditFilter())
    refusals = identity.audit.page(admin, AuditFilter(action="access.denied")).rows
    assert [(r.actor, r.target) for r in refusals] == [("someone", "audit")] * 2


def test_a_flood_of_refusals_from_one_client_is_capped(identity, admin):
    for _ in range(REFUSALS_PER_MINUTE * 3):
        identity.audit.refusal(None, "network.refused", address="203.0.113.7")
    identity.audit.refusal(None, "network.refused", address="203.0.113.8")  # another client still counts
    rows = identity.audit.page(admin, AuditFilter(action="network.refused"), limit=200).rows
    assert len([r for r in rows if r.address == "203.0.113.7"]) == REFUSALS_PER_MINUTE
    assert len([r for r in rows if r.address == "203.0.113.8"]) == 1


def test_the_service_has_no_way_to_change_or_delete_an_entry(identity):
    public = {name for name in dir(identity.audit) if not name.startswith("_")}
    assert public == {"append", "record", "refusal", "page", "csv", "engine"}
