"""What the bot's messages finally show, rebuilt from the calls a mock Slack recorded.

A reply is a message the bot posted (chat.postMessage) or streamed (chat.startStream),
followed by its updates (chat.update, chat.appendStream, chat.stopStream). A reply is
unfinished when its last state is a placeholder ("⏳ Looking into…") or an open stream:
what a person would see stuck in the thread. Used by the fault tests and the soak
benchmark to check that every event was answered, or apologised for, exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

PLACEHOLDER = ":hourglass_flowing_sand:"
APOLOGY_WORDS = ("Sorry", "sorry")


@dataclass
class Reply:
    channel: str
    ts: str
    thread_ts: str
    text: str = ""
    kind: str = "post"  # or "stream"
    streaming: bool = False
    updates: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> bool:
        return self.streaming or self.text.startswith(PLACEHOLDER)

    @property
    def primary(self) -> bool:
        """A reply of its own (a placeholder, a stream, an apology), not the continuation of
        an answer too long for one message."""
        return self.kind == "stream" or self.history[0].startswith(PLACEHOLDER) or self.apology

    @property
    def apology(self) -> bool:
        return self.text.lstrip().startswith(APOLOGY_WORDS) or "\n\nSorry" in self.text


def replies(calls) -> list[Reply]:
    """Every message the bot posted, in its last state (calls: objects or dicts with
    `method`, `body` and `reply`)."""
    messages: dict[tuple[str, str], Reply] = {}
    order: list[tuple[str, str]] = []
    for call in calls:
        method, body, reply = _parts(call)
        if not reply.get("ok", True):
            continue
        if method in ("chat.postMessage", "chat.startStream"):
            channel = reply.get("channel") or body.get("channel")
            ts = reply.get("ts")
            text = body.get("text") or body.get("markdown_text") or ""
            key = (channel, ts)
            stream = method == "chat.startStream"
            messages[key] = Reply(channel, ts, body.get("thread_ts") or ts, text,
                                  kind="stream" if stream else "post", streaming=stream,
                                  history=[text])
            order.append(key)
        elif method in ("chat.update", "chat.appendStream", "chat.stopStream"):
            key = (reply.get("channel") or body.get("channel"), body.get("ts"))
            message = messages.get(key)
            if message is None:
                continue
            if method == "chat.update":
                message.text = body.get("text") or ""
                message.updates += 1
            else:
                message.text += body.get("markdown_text") or ""
                message.streaming = method != "chat.stopStream"
            message.history.append(message.text)
    return [messages[key] for key in order]


def by_thread(calls) -> dict[tuple[str, str], list[Reply]]:
    """The bot's replies grouped by (channel, thread)."""
    threads: dict[tuple[str, str], list[Reply]] = defaultdict(list)
    for reply in replies(calls):
        threads[(reply.channel, reply.thread_ts)].append(reply)
    return dict(threads)


def _parts(call) -> tuple[str, dict, dict]:
    if isinstance(call, dict):
        return call["method"], call.get("body") or {}, call.get("reply") or {}
    return call.method, call.body or {}, call.reply or {}
