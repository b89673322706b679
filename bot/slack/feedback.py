"""Feedback on answers: Slack's native thumbs up / down (and the older helpful / not helpful
buttons of answers posted before them), stored with question and answer ids."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.slack.blocks import FEEDBACK, FEEDBACK_HELPFUL, FeedbackRef, vote_of
from bot.slack.ingress import utcnow
from store.access import UnknownUserError
from store.models import SlackFeedback

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)


class FeedbackStore:
    """Helpful / not helpful votes, one per person and answer (a second click changes it)."""

    def __init__(self, sessions: sessionmaker[Session], *, clock: Callable[[], datetime] = utcnow):
        self.sessions = sessions
        self.clock = clock

    def record(
        self,
        *,
        question_id: str,
        answer_id: str,
        slack_user_id: str,
        user_id: str | None,
        helpful: bool,
    ) -> None:
        for attempt in range(2):
            try:
                self._upsert(question_id, answer_id, slack_user_id, user_id, helpful)
                return
            except IntegrityError:
                # Two clicks raced to insert the same vote: the second one updates it.
                if attempt:
                    raise

    def _upsert(
        self, question_id: str, answer_id: str, slack_user_id: str, user_id: str | None,
        helpful: bool,
    ) -> None:
        with self.sessions.begin() as session:
            vote = session.scalar(
                select(SlackFeedback).where(
                    SlackFeedback.answer_id == answer_id,
                    SlackFeedback.slack_user_id == slack_user_id,
                )
            )
            if vote is None:
                session.add(
                    SlackFeedback(
                        question_id=question_id,
                        answer_id=answer_id,
                        slack_user_id=slack_user_id,
                        user_id=user_id,
                        helpful=helpful,
                        voted_at=self.clock(),
                    )
                )
            else:
                vote.helpful = helpful
                vote.voted_at = self.clock()


def store_feedback(body, action, respond, *, bot: SlackBot) -> None:
    """A click on helpful / not helpful: stored with the question and answer ids."""
    value = action.get("value", "")
    try:
        ref = FeedbackRef.decode(value)
    except (ValueError, KeyError, TypeError):
        log.warning("feedback button with an unreadable value")
        return
    vote = vote_of(value) if action["action_id"] == FEEDBACK else (
        action["action_id"] == FEEDBACK_HELPFUL)
    if vote is None:
        log.warning("feedback button without a vote in its value")
        return
    slack_user_id = body["user"]["id"]
    try:
        user_id = bot.resolve(slack_user_id).user_id
    except UnknownUserError:
        user_id = None
    helpful = vote
    bot.votes.record(
        question_id=ref.question_id,
        answer_id=ref.answer_id,
        slack_user_id=slack_user_id,
        user_id=user_id,
        helpful=helpful,
    )
    thanks = "Thanks, noted as helpful." if helpful else "Thanks, noted as not helpful."
    respond(response_type="ephemeral", replace_original=False, text=thanks)
