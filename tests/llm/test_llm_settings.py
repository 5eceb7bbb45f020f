"""Settings: where the key comes from, and that it never shows itself."""

from __future__ import annotations

import pickle

import pytest

from chatbot.config import load_app_settings
from chatbot.llm import LLMClient, Secret, load_client_settings

CANARY = "sk-ant-settings-canary-0451"


def test_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"ANTHROPIC_API_KEY={CANARY}\nANTHROPIC_BASE_URL=http://from-dotenv:1\n")
    from_file = load_client_settings({}, dotenv_path=str(dotenv))
    assert from_file.api_key.reveal() == CANARY and from_file.base_url == "http://from-dotenv:1"
    overridden = load_client_settings({"ANTHROPIC_BASE_URL": "http://env:2/"}, dotenv_path=str(dotenv))
    assert overridden.base_url == "http://env:2"


def test_defaults_and_timeouts():
    settings = load_client_settings({"CHATBOT_READ_TIMEOUT": "5", "CHATBOT_MAX_ATTEMPTS": "4"}, dotenv_path=None)
    assert settings.base_url == "https://api.anthropic.com" and not settings.has_key
    assert settings.timeouts.read == 5 and settings.timeouts.connect == 10
    assert settings.max_attempts == 4


@pytest.mark.parametrize(
    "env,message",
    [
        ({"CHATBOT_READ_TIMEOUT": "soon"}, "CHATBOT_READ_TIMEOUT must be a number"),
        ({"CHATBOT_TOTAL_TIMEOUT": "-1"}, "must be positive"),
        ({"CHATBOT_MAX_ATTEMPTS": "2.5"}, "CHATBOT_MAX_ATTEMPTS must be a whole number"),
        ({"ANTHROPIC_BASE_URL": "api.anthropic.com"}, "must start with http"),
    ],
)
def test_bad_settings_say_which_and_why(env, message):
    with pytest.raises(ValueError, match=message):
        load_client_settings(env, dotenv_path=None)


def test_bad_app_settings_say_which():
    with pytest.raises(ValueError, match="CHATBOT_MAX_INPUT_CHARS"):
        load_app_settings({"CHATBOT_MAX_INPUT_CHARS": "lots"}, dotenv_path=None)


def test_the_key_never_shows_itself():
    settings = load_client_settings({"ANTHROPIC_API_KEY": CANARY}, dotenv_path=None)
    client = LLMClient(settings)
    for text in (repr(settings), str(settings), f"{settings.api_key}", repr(client), str(vars(settings))):
        assert CANARY not in text
    with pytest.raises(TypeError):
        pickle.dumps(settings.api_key)
    assert Secret(CANARY) == settings.api_key and Secret("other") != settings.api_key
    client.close()
