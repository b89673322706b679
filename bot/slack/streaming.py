"""An answer written into a Slack thread as it is made: the status line while tools run,
then a streamed message (chat.startStream / appendStream / stopStream through
`WebClient.chat_stream`) with a task card per tool call and then the text.

Where Slack will not stream (older workspaces and clients, some conversation types) the
first call fails and the reply falls back to a placeholder message that shows the step
under way and is replaced by the whole answer in Block Kit at the end. Either way the
message ends with the same footer as any answer: sources, as-of date, feedback buttons.

The text is streamed a line at a time (so escaping and link rewriting never see half a
line), without the `Numbers as of …` line, which the footer shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import TaskUpdateChunk
from slack_sdk.web.chat_stream import ChatStream

from bot.assistant import Answer
from bot.slack.blocks import (
    AS_OF_LINE,
    ChoiceRef,
    FeedbackRef,
    SlackMessage,
    answer_footer,
    notice,
    render_answer,
)
from bot.slack.egress import SlackOut
from bot.slack.formatting import escape, stream_markdown

log = logging.getLogger(__name__)

# Slack flushes what it holds at this many characters; ~one chat.appendStream per paragraph.
STREAM_BUFFER = 400
# Slack takes at most 12,000 characters of markdown per call; long answers go in pieces.
PIECE_LIMIT = 4000


def status_line(phrase: str) -> str:
    """A phrase as Slack shows it after the app's name: "is summarising Acme Industrial…"."""
    return f"is {phrase[:1].lower()}{phrase[1:]}…"


def stream_text(text: str) -> str:
    """An answer's text exactly as it is streamed (see the module docstring)."""
    return "".join(_stream_lines(text, final=True))


def _stream_lines(text: str, *, final: bool) -> list[str]:
    lines = text.split("\n")
    if not final:
        lines = [line + "\n" for line in lines[:-1]]
    else:
        lines = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    return [stream_markdown(line) for line in lines if not AS_OF_LINE.match(line.rstrip("\n"))]


@dataclass
class Place:
    """Where a reply goes: the conversation, the message it answers, and who asked."""

    channel: str
    thread_ts: str
    slack_user_id: str
    team_id: str | None = None


class Status:
    """The "KAM Assistant is …" line under the thread (assistant.threads.setStatus)."""

    def __init__(self, client: WebClient, place: Place):
        self.client = client
        self.place = place
        self.shown = ""

    def show(self, phrase: str) -> None:
        text = status_line(phrase) if phrase else ""
        if text == self.shown:
            return
        try:
            self.client.assistant_threads_setStatus(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=text)
            self.shown = text
        except SlackApiError as error:  # a status is a nicety; the answer still comes
            log.info("no status in %s: %s", self.place.channel, error.response.get("error"))


@dataclass
class StreamWriter:
    """Writes one answer into the thread: streamed if Slack allows, else a placeholder."""

    out: SlackOut
    place: Place
    tasks: dict[str, str] = field(default_factory=dict)  # call id -> its phrase
    running: set[str] = field(default_factory=set)  # call ids not finished yet
    sent: str = ""  # the text streamed so far
    _partial: str = ""
    _stream: ChatStream | None = None
    _placeholder: str | None = None  # ts of the fallback message
    _broken: bool = False

    @property
    def ts(self) -> str | None:
        """The answer's message (streamed or placeholder) once it exists."""
        return self._stream.ts if self._stream is not None else self._placeholder

    # ------------------------------------------------------------ as the answer is made

    def task(self, call_id: str, phrase: str, status: str) -> None:
        """A tool call started ("in_progress") or ended ("complete", "error")."""
        call_id = call_id or phrase
        self.tasks[call_id] = phrase
        if status == "in_progress":
            self.running.add(call_id)
        else:
            self.running.discard(call_id)
        self._send(chunks=[TaskUpdateChunk(id=call_id, title=phrase, status=status)],
                   progress=phrase if status == "in_progress" else None)

    def text(self, delta: str) -> None:
        self._partial += delta
        if "\n" not in self._partial:
            return
        head, _, self._partial = self._partial.rpartition("\n")
        lines = "".join(_stream_lines(head + "\n", final=False))
        if lines:
            self._send(markdown=lines)

    # ------------------------------------------------------------ the end

    def finish(self, answer: Answer, question_id: str, choice: ChoiceRef | None = None
               ) -> str | None:
        """Close the message with the whole answer and its footer (feedback buttons naming
        `question_id` and this message, the answer's choices on buttons for `choice`);
        returns the message's ts."""
        expected = stream_text(answer.text) if answer.ok else escape(answer.text)
        if self._stream is None and self._placeholder is None:
            self._send(markdown=expected)  # nothing came before the answer: open with it
            rest = ""
        else:
            rest = expected[len(self.sent):] if expected.startswith(self.sent) else ""
        if len(rest) > PIECE_LIMIT:
            self._send(markdown=rest)
            rest = ""
        stream = self._stream
        feedback = FeedbackRef(question_id, f"{self.place.channel}:{self.ts}")
        if stream is None or self._broken:
            return self._replace(answer, feedback, choice)
        done = [TaskUpdateChunk(id=i, title=self.tasks[i], status="complete")
                for i in sorted(self.running)]
        footer = answer_footer(answer, feedback, choice=choice) if answer.ok else []
        try:
            stream.stop(markdown_text=rest or None, chunks=done or None,
                        blocks=[b.to_dict() for b in footer] or None)
            self.sent += rest
        except SlackApiError as error:
            log.warning("could not close the stream in %s: %s", self.place.channel,
                        error.response.get("error"))
            self.sent = ""
        if self.sent != expected:
            # The model wrote text it later dropped, or the stream was cut: show the answer.
            return self._replace(answer, feedback, choice)
        return self.ts

    # ------------------------------------------------------------ Slack calls

    def _send(self, *, markdown: str = "", chunks: list | None = None,
              progress: str | None = None) -> None:
        if self._broken:
            return
        if self._placeholder is not None:
            if progress:
                self._update_placeholder(progress)
            return
        opening = self._stream is None
        stream = self._new_stream() if self._stream is None else self._stream
        first, *more = _pieces(markdown) or [""]
        try:
            # The first call flushes at once (chunks given), so a refusal surfaces here.
            stream.append(markdown_text=first, chunks=chunks or ([] if opening else None))
            self._stream = stream
            for piece in more:
                stream.append(markdown_text=piece)
        except SlackApiError as error:
            if self._stream is None:
                log.info("no streaming in %s (%s): placeholder instead", self.place.channel,
                         error.response.get("error"))
                self._post_placeholder(progress)
            else:
                log.warning("streaming into %s failed: %s", self.place.channel,
                            error.response.get("error"))
                self._broken = True
            return
        self.sent += markdown

    def _new_stream(self) -> ChatStream:
        place = self.place
        self.out.pacer.wait(place.channel)
        return self.out.client.chat_stream(
            channel=place.channel, thread_ts=place.thread_ts, buffer_size=STREAM_BUFFER,
            recipient_user_id=place.slack_user_id, recipient_team_id=place.team_id,
            task_display_mode="timeline",
        )

    def _post_placeholder(self, progress: str | None) -> None:
        message = notice(f":hourglass_flowing_sand: {progress or 'Reading the question'}…")
        posted = self.out.post(self.place.channel, message, thread_ts=self.place.thread_ts)
        self._placeholder = posted["ts"]

    def _update_placeholder(self, progress: str) -> None:
        if self._placeholder is None:
            return
        try:
            self.out.update(self.place.channel, self._placeholder,
                            notice(f":hourglass_flowing_sand: {progress}…"))
        except SlackApiError as error:
            log.info("placeholder not updated: %s", error.response.get("error"))

    def _replace(self, answer: Answer, feedback: FeedbackRef, choice: ChoiceRef | None
                 ) -> str | None:
        """The whole answer in Block Kit, in place of the placeholder or the stream."""
        first, *rest = render_answer(answer, feedback=feedback, choice=choice)
        ts = self.ts
        if ts is None:
            ts = self.out.post(self.place.channel, first, thread_ts=self.place.thread_ts)["ts"]
        else:
            self.out.update(self.place.channel, ts, first)
        for message in rest:
            self.out.post(self.place.channel, message, thread_ts=self.place.thread_ts)
        return ts


def _pieces(markdown: str) -> list[str]:
    """`markdown` in pieces of at most PIECE_LIMIT characters, cut after a line if possible."""
    pieces = []
    while len(markdown) > PIECE_LIMIT:
        cut = markdown.rfind("\n", 0, PIECE_LIMIT) + 1 or PIECE_LIMIT
        pieces.append(markdown[:cut])
        markdown = markdown[cut:]
    return [*pieces, markdown] if markdown else pieces


def post_privately(out: SlackOut, place: Place, messages: list[SlackMessage]) -> None:
    """Messages in the thread that only the asker sees (chat.postEphemeral)."""
    for message in messages:
        out.client.chat_postEphemeral(
            channel=place.channel, user=place.slack_user_id, thread_ts=place.thread_ts,
            link_names=False, **message.as_kwargs())
