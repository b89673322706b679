"""Account plans as Slack canvases: `/kam plan ACCOUNT --canvas`.

The plan is drafted and saved as a new version exactly as without `--canvas`; then the
version is published: the first time as a new canvas (canvases.create, markdown), later
versions of the same account's plan by replacing that canvas's content (canvases.edit), so
the team keeps one canvas per account. The canvas id is stored with the version
(`account_plans.canvas_id`), the requester is given write access (canvases.access.set),
and the answer links the canvas. When Slack refuses, the plan is still answered and
saved, and the answer says why there is no canvas and what an admin can do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.slack.blocks import SlackMessage, section
from bot.slack.formatting import escape, truncate
from store.access import AccessScope
from tools.plans import PlanNotFound, plan_for_canvas, record_canvas
from tools.selection import AccountNotFound

if TYPE_CHECKING:
    from bot.slack.app import SlackBot

log = logging.getLogger(__name__)

# What Slack's refusals mean for the people who read the answer, and what to do.
ADMIN_FIXES = {
    "missing_scope": "the app may not write canvases: an admin should add the "
                     "`canvases:write` scope (it is in manifest.yml) and reinstall the app",
    "not_allowed_token_type": "Slack does not let this app's token write canvases: an admin "
                              "should reinstall the app from manifest.yml, which gives its "
                              "bot token the `canvases:write` scope",
    "canvas_disabled_user_team": "canvases are turned off in this workspace: an admin can "
                                 "turn them on in the workspace settings",
    "restricted_action": "a workspace policy keeps apps from creating canvases: an admin "
                         "can allow it in the workspace settings",
}
# Slack names this refusal `free_teams_cannot_create_non_tabbed_canvases` in its docs.
FREE_PLAN = ("this workspace is on Slack's free plan, where canvases can only be channel "
             "tabs: an admin can upgrade the plan to have the plan published as a canvas")
OTHER = ("Slack refused the canvas ({error}): an admin should check that the app has the "
         "`canvases:write` scope and that canvases are turned on")
NO_CANVAS = ":warning: No canvas: {reason}. The plan is saved as version {version}."
NO_PLAN = ("No canvas: no plan was saved, so there is nothing to publish (see the answer "
           "above).")
GONE = "No canvas: the plan saved as {plan} is no longer yours to publish."
NO_ACCESS = (" I could not give you access to it ({error}): ask an admin to share it with "
             "you.")
TEXT_LIMIT = 300


@dataclass(frozen=True)
class Published:
    canvas_id: str
    created: bool  # a new canvas (else an earlier version's, updated)


def publish_plans(bot: SlackBot, scope: AccessScope, slack_user_id: str, team_id: str | None,
                  plan_ids: list[int]) -> SlackMessage:
    """Publish the plan versions an answer saved (one, for `/kam plan`) as canvases, and
    say so: the link, or why there is none and what to do."""
    if not plan_ids:
        return _message(NO_PLAN)
    return _message(" ".join(_publish(bot, scope, slack_user_id, team_id, plan_id)
                             for plan_id in plan_ids))


def _publish(bot: SlackBot, scope: AccessScope, slack_user_id: str, team_id: str | None,
             plan_id: int) -> str:
    try:
        with bot.sessions() as session:
            plan = plan_for_canvas(session, scope, plan_id)  # the account still in scope
    except (AccountNotFound, PlanNotFound):
        return GONE.format(plan=plan_id)
    name, version = plan["account"]["name"], plan["version"]
    try:
        published = _write(bot, plan["canvas_id"], f"{name}: account plan", plan["markdown"])
    except SlackApiError as error:
        code = str(error.response.get("error") or "unknown_error")
        log.warning("no canvas for plan %s: %s", plan_id, code)
        return NO_CANVAS.format(reason=escape(_reason(code)), version=version)
    record_canvas(bot.sessions, scope, plan_id, published.canvas_id)
    done = "a new canvas" if published.created else f"its canvas, updated to version {version}"
    text = f":memo: The plan of {escape(name)} is in {done}: {_link(bot, team_id, published)}."
    try:
        bot.out.client.canvases_access_set(canvas_id=published.canvas_id, access_level="write",
                                           user_ids=[slack_user_id])
    except SlackApiError as error:
        text += NO_ACCESS.format(error=escape(str(error.response.get("error"))))
    return text


def _write(bot: SlackBot, canvas_id: str | None, title: str, markdown: str) -> Published:
    """Replace the content of `canvas_id`, or create a canvas if there is none (or it is gone)."""
    client = bot.out.client
    content = {"type": "markdown", "markdown": markdown}
    if canvas_id:
        try:
            client.canvases_edit(canvas_id=canvas_id,
                                 changes=[{"operation": "replace", "document_content": content}])
            return Published(canvas_id, created=False)
        except SlackApiError as error:
            if error.response.get("error") != "canvas_not_found":
                raise
            log.info("canvas %s is gone: a new one for %s", canvas_id, title)
    created = client.canvases_create(title=title, document_content=content)
    return Published(str(created["canvas_id"]), created=True)


def _reason(code: str) -> str:
    if code.startswith("free_teams_cannot_create"):
        return FREE_PLAN
    return ADMIN_FIXES.get(code) or OTHER.format(error=code)


def _link(bot: SlackBot, team_id: str | None, published: Published) -> str:
    """The canvas as a link (https://WORKSPACE.slack.com/docs/TEAM/CANVAS), or its id."""
    try:
        auth = bot.out.client.auth_test()
    except SlackApiError as error:
        log.info("no workspace url for a canvas link: %s", error.response.get("error"))
        return f"canvas {published.canvas_id}"
    url, team = auth.get("url"), team_id or auth.get("team_id")
    if not url or not team:
        return f"canvas {published.canvas_id}"
    return f"<{url.rstrip('/')}/docs/{team}/{published.canvas_id}|open the canvas>"


def _message(mrkdwn: str) -> SlackMessage:
    return SlackMessage(truncate(mrkdwn, TEXT_LIMIT), [section(mrkdwn)])
