"""Prompts and answer templates, kept as files (markdown + Jinja2) and loaded by name."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent


class Prompts:
    """Renders `prompts/<name>` with Jinja2; a missing variable is an error, not a blank."""

    def __init__(self, directory: Path = PROMPTS_DIR):
        self.env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,  # markdown for people; Slack escaping happens in bot/blocks.py
        )

    def render(self, name: str, **values: object) -> str:
        return self.env.get_template(name).render(**values).strip() + "\n"

    def names(self) -> list[str]:
        return sorted(self.env.list_templates())
