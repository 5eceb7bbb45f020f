"""Agents rate replies in the chat page: thumbs saved at once, a comment one click further,
and the rating shown again on the next visit."""

from __future__ import annotations

from ui_helpers import conversation_id, send


def test_a_thumbs_down_with_a_comment_is_saved_and_shown_again(new_app, db):
    at = send(new_app(), "Where is order 1042?")
    cid = conversation_id(at)
    (thumbs,) = at.feedback
    assert thumbs.value is None

    thumbs.set_value(0).run()  # thumbs down
    assert not at.exception, at.exception
    assert db("SELECT rating, comment, owner FROM feedback") == [(-1, None, "agent")]

    ((reply_id,),) = db("SELECT id FROM message WHERE role = 'assistant'")
    at.text_area(key=f"feedback-comment-{reply_id}").set_value("Did not ask for the <b>postcode</b>")
    at.button(key=f"feedback-save-{reply_id}").click().run()
    assert db("SELECT rating, comment FROM feedback") == [(-1, "Did not ask for the <b>postcode</b>")]

    again = new_app({"c": str(cid)})  # a later visit shows what this agent said
    (thumbs,) = again.feedback
    assert thumbs.value == 0
    captions = [c.value for c in again.caption if "Your comment" in c.value]
    assert captions == ["Your comment: Did not ask for the \\<b>postcode\\</b>"]  # escaped: text, not markup

    thumbs.set_value(1).run()  # changing one's mind keeps the comment
    assert db("SELECT rating, comment FROM feedback") == [(1, "Did not ask for the <b>postcode</b>")]
    thumbs.set_value(None).run()  # and clearing takes the rating back
    assert db("SELECT count(*) FROM feedback") == [(0,)]


def test_only_finished_replies_can_be_rated(new_app):
    at = new_app()
    assert not at.feedback  # the greeting is not a stored reply
    send(at, "Hello")
    assert len(at.feedback) == 1  # one reply, one rating; the agent's message has none
