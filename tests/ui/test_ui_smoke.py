def test_two_turns(new_app):
    at = new_app()
    assert not at.exception, at.exception
    at.chat_input[0].set_value("I need a refund for order 1042").run()
    assert not at.exception, at.exception
    print([m.markdown[0].value if m.markdown else None for m in at.chat_message])
    print(at.query_params)
