"""manifest.yml creates an app that can do what the code does: it is valid YAML, it
subscribes to every event the app listens to, and it asks for every scope the Web API
calls in bot/slack need (and no other), read from the source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SLACK_CODE = sorted((ROOT / "bot" / "slack").glob("*.py")) + [ROOT / "bot" / "cli" / "slack.py"]

# The scopes each Web API method needs (docs.slack.dev/reference/methods). A call that is
# not listed fails the test: add it here and its scopes to manifest.yml.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write", "im:write"},  # to a user id: the DM with the bot
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_stream": {"chat:write"},  # chat.startStream / appendStream / stopStream
    "chat_startStream": {"chat:write"},
    "chat_appendStream": {"chat:write"},
    "chat_stopStream": {"chat:write"},
    "assistant_threads_setStatus": {"chat:write"},
    "assistant_threads_setTitle": {"assistant:write"},
    "assistant_threads_setSuggestedPrompts": {"assistant:write"},
    "conversations_info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations_members": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "users_info": {"users:read"},
    "views_publish": set(),
    "files_upload_v2": {"files:write"},
    "canvases_create": {"canvases:write"},
    "canvases_edit": {"canvases:write"},
    "canvases_access_set": {"canvases:write"},
}
# Bolt's helpers, passed to listeners by name, and the Web API method behind each.
BOLT_HELPERS = {
    "set_suggested_prompts": "assistant_threads_setSuggestedPrompts",
    "set_title": "assistant_threads_setTitle",
    "set_status": "assistant_threads_setStatus",
    "say_stream": "chat_stream",
    "say": "chat_postMessage",
}
# Events (as the manifest names them) and the scopes that receive them.
EVENT_SCOPES = {
    "app_mention": {"app_mentions:read"},
    "message.im": {"im:history"},
    "app_home_opened": set(),
    "assistant_thread_started": {"assistant:write"},
    "assistant_thread_context_changed": {"assistant:write"},
}
PANEL_EVENTS = {
    "thread_started": "assistant_thread_started",
    "thread_context_changed": "assistant_thread_context_changed",
    "user_message": "message.im",
}
CALL = re.compile(
    r"\.((?:chat|conversations|users|views|files|assistant_threads|auth|reactions|apps|canvases)"
    r"_[A-Za-z0-9_]+)\(")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


@pytest.fixture(scope="module")
def source() -> str:
    return "\n".join(path.read_text() for path in SLACK_CODE)


def listened_events(source: str) -> set[str]:
    app = (ROOT / "bot" / "slack" / "app.py").read_text()
    events = set(re.findall(r'app\.event\("(\w+)"', app))
    if "message" in events:  # only direct messages are answered (is_direct_message)
        events = (events - {"message"}) | {"message.im"}
    events |= {PANEL_EVENTS[m] for m in re.findall(r"panel\.(\w+)\(", app) if m in PANEL_EVENTS}
    return events


def called_methods(source: str) -> set[str]:
    calls = set(CALL.findall(source))
    for helper, method in BOLT_HELPERS.items():
        if re.search(rf"\b{helper}\(", source):
            calls.add(method)
    return calls


def test_the_manifest_is_valid_yaml_with_the_assistant_panel(manifest):
    panel = manifest["features"]["assistant_view"]
    assert panel["assistant_description"].strip()
    assert 1 <= len(panel["suggested_prompts"]) <= 4
    for prompt in panel["suggested_prompts"]:
        assert prompt["title"] and prompt["message"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["slash_commands"][0]["command"] == "/kam"


def test_it_subscribes_to_every_event_the_app_listens_to_and_no_other(manifest, source):
    events = listened_events(source)

    assert {"app_mention", "message.im", "assistant_thread_started"} <= events
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == events


def test_every_web_api_call_in_the_code_is_known(source):
    unknown = called_methods(source) - set(METHOD_SCOPES)

    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES and manifest.yml"


def test_it_asks_for_every_scope_the_calls_need_and_no_more(manifest, source):
    needed = {"commands"}  # /kam
    for method in called_methods(source):
        needed |= METHOD_SCOPES[method]
    for event in listened_events(source):
        needed |= EVENT_SCOPES[event]

    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed


def test_slack_sends_everything_to_the_one_events_path(manifest):
    urls = [manifest["settings"]["event_subscriptions"]["request_url"],
            manifest["settings"]["interactivity"]["request_url"],
            manifest["features"]["slash_commands"][0]["url"]]

    assert urls == ["https://YOUR-HOST/slack/events"] * 3
