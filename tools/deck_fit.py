"""How much room text takes on a slide, and which boxes of a saved deck it overflows.

Text is measured with the metrics of DejaVu Sans (shipped with matplotlib, so the same on
every machine), wrapped word by word as PowerPoint and LibreOffice wrap it. The deck is set
in Arial (Liberation Sans where LibreOffice renders it), whose letters are narrower than
DejaVu's (a 30-word line: 7 % narrower), so a box sized by this measure holds its text in
either program; `overflows` re-measures a saved deck the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from pptx import Presentation

LINE_HEIGHT = 1.2  # times the font size: single spacing, as PowerPoint sets it
EMU_PER_PT = 12700


@dataclass(frozen=True)
class Run:
    """A stretch of text in one style."""

    text: str
    bold: bool = False


@lru_cache(maxsize=2)
def _font(bold: bool) -> FT2Font:
    weight = "bold" if bold else "normal"
    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight=weight))
    return FT2Font(path)


@lru_cache(maxsize=20_000)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of `text` at `size` points, in points."""
    font = _font(bold)
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64


def line_count(runs: Sequence[Run], size: float, width: float) -> int:
    """The lines a paragraph of `runs` takes in a box `width` points wide, wrapped at spaces
    (a word longer than a line breaks where it must)."""
    words = [(w, r.bold) for r in runs for w in r.text.split()]
    if not words:
        return 1
    lines, used = 1, 0.0
    for word, bold in words:
        w = text_width(word, size, bold)
        gap = text_width(" ", size, bold) if used else 0.0
        if used and used + gap + w > width:
            lines, used, gap = lines + 1, 0.0, 0.0
        if w > width:  # a word wider than the box: broken over lines of its own
            extra = math.ceil(w / width)
            lines += extra - 1
            used = w - (extra - 1) * width
            continue
        used += gap + w
    return lines


def text_height(paragraphs: Sequence[tuple[Sequence[Run], float, float, float]]) -> float:
    """Points taken by paragraphs given as (runs, size, width, space_before)."""
    return sum(before + line_count(runs, size, width) * size * LINE_HEIGHT
               for runs, size, width, before in paragraphs)


# --- checking a saved deck --------------------------------------------------------------------


def _pt(value: int | None) -> float:
    return (value or 0) / EMU_PER_PT


def _paragraphs(frame, width: float) -> list[tuple[list[Run], float, float, float]]:
    out = []
    for p in frame.paragraphs:
        runs = [Run(r.text, bool(r.font.bold)) for r in p.runs]
        sizes = [r.font.size.pt for r in p.runs if r.font.size is not None]
        size = max(sizes) if sizes else 18.0
        indent = _pt(int(p._p.pPr.get("marL", 0))) if p._p.pPr is not None else 0.0
        before = p.space_before.pt if p.space_before is not None else 0.0
        out.append((runs, size, width - indent, before))
    return out


def _frame_room(shape) -> tuple[float, float]:
    frame = shape.text_frame
    width = _pt(shape.width) - _pt(frame.margin_left) - _pt(frame.margin_right)
    height = _pt(shape.height) - _pt(frame.margin_top) - _pt(frame.margin_bottom)
    return width, height


def _table_height(table) -> float:
    """A table's real height: a row grows to hold its tallest cell."""
    total = 0.0
    for row in table.rows:
        needed = 0.0
        for cell, column in zip(row.cells, table.columns, strict=True):
            width = _pt(column.width) - _pt(cell.margin_left) - _pt(cell.margin_right)
            needed = max(needed, text_height(_paragraphs(cell.text_frame, width))
                         + _pt(cell.margin_top) + _pt(cell.margin_bottom))
        total += max(_pt(row.height), needed)
    return total


def overflows(path: Path) -> list[str]:
    """Every place in a saved deck where content does not fit: a text box whose text is taller
    than the box, a table that grows past the slide's bottom, a shape off the slide."""
    deck = Presentation(str(path))
    slide_w, slide_h = _pt(deck.slide_width), _pt(deck.slide_height)
    problems = []
    for number, slide in enumerate(deck.slides, start=1):
        for shape in slide.shapes:
            left, top = _pt(shape.left), _pt(shape.top)
            width, height = _pt(shape.width), _pt(shape.height)
            where = f"slide {number}, {shape.name}"
            if shape.has_text_frame and shape.text_frame.text.strip():
                room_w, room_h = _frame_room(shape)
                need = text_height(_paragraphs(shape.text_frame, room_w))
                if need > room_h + 0.5:
                    problems.append(f"{where}: text needs {need:.0f} pt, the box holds "
                                    f"{room_h:.0f} pt")
            if shape.has_table:
                height = max(height, _table_height(shape.table))
            if left < 0 or top < 0 or left + width > slide_w + 0.5 or top + height > slide_h + 0.5:
                problems.append(f"{where}: reaches {left + width:.0f} x {top + height:.0f} pt, "
                                f"past the slide's {slide_w:.0f} x {slide_h:.0f} pt")
    return problems
