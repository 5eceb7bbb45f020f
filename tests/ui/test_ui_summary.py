"""The chat page's "Summarise this conversation" action and its ticket-summary card."""

from __future__ import annotations

from ui_helpers import conversation_id, send


def summarise(at):
    at.button(key=f"summarise-{conversation_id(at)}").click().run()
    assert not at.exception, at.exception
    return at


def test_summarise_shows_the_card_and_stores_it(new_app, sandbox, db):
    at = new_app()
    assert not any(b.key and b.key.startswith("summarise-") for b in at.button)  # no conversation yet
    send(at, "My parcel never arrived, this is ridiculous")
    cid = conversation_id(at)

    summarise(at)

    markdown = [m.value for m in at.markdown]
    assert any("Ticket summary" in value for value in markdown)
    assert any(value.startswith("Order or delivery problem: My parcel never arrived") for value in markdown)
    badges = next(value for value in markdown if "-badge[" in value)
    assert "Shipping" in badges and "Frustrated" in badges and "Not resolved" in badges
    assert any(value.startswith("**Next steps**") for value in markdown)
    assert any(c.value.startswith("claude-haiku-5-5 · ") for c in at.caption)
    assert not at.error and not at.warning
    assert sandbox.state.requests()[-1]["body"]["model"] == "claude-haiku-5-5"
    assert db("SELECT conversation_id, model FROM ticket_summary") == [(cid, "claude-haiku-5-5")]
    assert db("SELECT purpose, model, outcome FROM api_call ORDER BY id") == [
        ("chat", "claude-sonnet-5-5", "ok"), ("summary", "claude-haiku-5-5", "ok")]


def test_the_card_shows_again_on_reload_and_goes_out_of_date(new_app):
    at = new_app()
    send(at, "I need a refund for order 1042")
    cid = conversation_id(at)
    summarise(at)

    again = new_app({"c": str(cid)})
    assert any("Ticket summary" in m.value for m in again.markdown)
    assert not again.warning

    send(again, "Thanks, that solved it")
    (warning,) = again.warning
    assert warning.value.startswith("Out of date: 2 messages added since this summary.")


def test_a_failed_summary_says_what_to_do(new_app, sandbox, db):
    at = new_app()
    send(at, "Where is my order?")
    sandbox.state.add_faults([{"kind": "bad_tool_input"}, {"kind": "bad_tool_input"}])

    summarise(at)

    (error,) = at.error
    assert "did not have the expected shape" in error.value and "Try again" in error.value
    assert not any("Ticket summary" in m.value for m in at.markdown)
    assert db("SELECT count(*) FROM ticket_summary") == [(0,)]
    assert db("SELECT outcome, error_type FROM api_call WHERE purpose = 'summary'") == [
        ("error", "invalid_output")] * 2


def test_the_button_waits_for_a_message(new_app):
    at = new_app()
    at.button(key="start-conversation").click().run()  # an empty conversation
    assert not at.exception, at.exception

    button = at.button(key=f"summarise-{conversation_id(at)}")
    assert button.disabled and "nothing to summarise" in button.help
