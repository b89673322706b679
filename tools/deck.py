"""The QBR deck: a PPTX made from the same facts as the QBR prep note (`drafting.qbr_facts`).

The words come from prompts/qbr_deck.md.j2, which shares its pieces with the prep note:
`# ` is the title slide, each `## ` section one slide, `<!-- chart -->` the revenue chart
(a native chart of `account_data.quarterly_revenue`, money in the reporting currency). A
section is set in the largest font that fits its slide; one that does not fit at the
smallest continues on up to MAX_PAGES slides, and what is left after that is counted
("… and 4 more."). Boxes are sized by `deck_fit`, which also checks a saved deck.

    decks = QbrDecks(sessions, prompts, out_dir, config)
    decks.draft(context, "Globex")      # {"path": ".../A0003-qbr-deck.pptx", "slides": [...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.oxml.ns import qn
from pptx.util import Pt
from sqlalchemy.orm import Session, sessionmaker

from prompts import Prompts, kpi_label, money_number_format, quarter_name
from tools.accounts import run_view
from tools.context import CallerContext
from tools.deck_fit import LINE_HEIGHT, Run, line_count, text_width
from tools.drafting import qbr_facts
from tools.kpi_config import KpiConfig
from tools.kpis import KpiEngine

# Points on a 16:9 slide (13.33 x 7.5 in).
SLIDE_W, SLIDE_H = 960.0, 540.0
MARGIN = 40.0
BODY_W = SLIDE_W - 2 * MARGIN
TITLE_TOP, TITLE_H = 24.0, 60.0
BODY_TOP, BODY_BOTTOM = 96.0, 494.0
FOOTER_TOP, FOOTER_SIZE = 506.0, 10.0
CHART_W = 520.0
GAP = 12.0
INSET_X, INSET_Y = 7.2, 3.6  # a text box's own margins (PowerPoint's defaults)
CELL_X, CELL_Y = 7.2, 3.6
BULLET_INDENT = 18.0
TEXT_SIZES = (20.0, 18.0, 16.0, 14.0)
TITLE_SIZES = (30.0, 26.0, 22.0)
NAME_SIZES = (40.0, 34.0, 28.0)
MAX_PAGES = 3
FONT = "Arial"
INK = RGBColor(0x26, 0x32, 0x38)
MUTED = RGBColor(0x60, 0x6B, 0x73)
ACCENT = RGBColor(0x2F, 0x6D, 0xB5)
LIGHT = RGBColor(0x9D, 0xBB, 0xE0)
MARGIN_LINE = RGBColor(0x44, 0x4C, 0x52)


# --- the outline: the template's markdown as blocks --------------------------------------------


@dataclass
class Para:
    runs: list[Run]
    bullet: bool = False


@dataclass
class Table:
    header: list[list[Run]]
    rows: list[list[list[Run]]]


@dataclass
class Chart:
    pass


Block = Para | Table | Chart


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def _runs(inline: Token) -> list[Run]:
    runs, bold = [], False
    for child in inline.children or []:
        if child.type in ("strong_open", "strong_close"):
            bold = child.type == "strong_open"
        elif child.type in ("text", "code_inline"):
            runs.append(Run(child.content, bold))
        elif child.type in ("softbreak", "hardbreak"):
            runs.append(Run(" ", bold))
    return runs


def outline(markdown: str) -> tuple[str, list[Para], list[Section]]:
    """The deck's name, the title slide's lines and the sections, from the template's text."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    name, intro, sections = "", list[Para](), list[Section]()
    bullet, header = False, False
    cells: Table | None = None
    row: list[list[Run]] | None = None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = "".join(r.text for r in _runs(tokens[i + 1]))
            if token.tag == "h1":
                name = text
            else:
                sections.append(Section(text))
        elif token.type == "bullet_list_open":
            bullet = True
        elif token.type == "bullet_list_close":
            bullet = False
        elif token.type == "html_block" and "chart" in token.content:
            sections[-1].blocks.append(Chart())
        elif token.type == "table_open":
            cells = Table([], [])
            sections[-1].blocks.append(cells)
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and cells is not None and row is not None:
            if not header:
                cells.header, header = row, True
            else:
                cells.rows.append(row)
        elif token.type == "table_close":
            cells, header = None, False
        elif token.type == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            if row is not None:
                row.append(_runs(token))
        elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
            para = Para(_runs(token), bullet)
            (sections[-1].blocks if sections else intro).append(para)
    return name, intro, sections


# --- fitting: sizes, widths, pages -------------------------------------------------------------


def _para_height(para: Para, size: float, width: float, first: bool) -> float:
    room = width - 2 * INSET_X - (BULLET_INDENT if para.bullet else 0.0)
    return (0.0 if first else size * 0.4) + line_count(para.runs, size, room) * size * LINE_HEIGHT


def _column_widths(table: Table, size: float, width: float) -> list[float]:
    """Each column as wide as its longest cell, shrunk (wide columns first) to the width."""
    natural = [max(text_width("".join(r.text for r in cell), size, any(r.bold for r in cell))
                   for cell in column) + 2 * CELL_X + 1
               for column in zip(table.header, *table.rows, strict=True)]
    if sum(natural) <= width:
        return [n * width / sum(natural) for n in natural]
    widths, left, wide = list(natural), width, list(range(len(natural)))
    while wide:
        fair = left / len(wide)
        narrow = [i for i in wide if natural[i] <= fair]
        if not narrow:
            for i in wide:
                widths[i] = fair
            break
        for i in narrow:
            widths[i] = natural[i]
            left -= natural[i]
            wide.remove(i)
    return widths


def _row_height(cells: Sequence[list[Run]], widths: Sequence[float], size: float) -> float:
    return max(line_count(cell, size, w - 2 * CELL_X) for cell, w in zip(cells, widths,
                                                                         strict=True)
               ) * size * LINE_HEIGHT + 2 * CELL_Y


def _table_size(size: float) -> float:
    return max(12.0, size - 4.0)


@dataclass
class Page:
    title: str
    size: float
    blocks: list[Block]
    chart: bool = False


def _height(blocks: Sequence[Block], size: float, width: float) -> float:
    total, first = 0.0, True
    for block in blocks:
        if isinstance(block, Para):
            total += _para_height(block, size, width, first)
            first = False
        elif isinstance(block, Table):
            ts = _table_size(size)
            widths = _column_widths(block, ts, width)
            total += sum(_row_height(r, widths, ts) for r in [block.header, *block.rows])
            total += GAP + 2 * INSET_Y
            first = True
    return total + 2 * INSET_Y


def _units(blocks: Sequence[Block]) -> list[tuple[int, Para | list[list[Run]]]]:
    """What a section can be split between: its paragraphs and its tables' rows."""
    out: list[tuple[int, Para | list[list[Run]]]] = []
    for index, block in enumerate(blocks):
        if isinstance(block, Para):
            out.append((index, block))
        elif isinstance(block, Table):
            out.extend((index, row) for row in block.rows)
    return out


def _rebuild(blocks: Sequence[Block], units: Sequence[tuple[int, Any]]) -> list[Block]:
    out: list[Block] = []
    for index, unit in units:
        source = blocks[index]
        if isinstance(source, Table):
            last = out[-1] if out else None
            if isinstance(last, Table) and last.header is source.header:
                last.rows.append(unit)
            else:
                out.append(Table(source.header, [unit]))
        else:
            out.append(unit)
    return out


def paginate(section: Section) -> list[Page]:
    """The section on one slide in the largest size that fits; else on up to MAX_PAGES slides
    at the smallest, the rest counted on the last."""
    chart = any(isinstance(b, Chart) for b in section.blocks)
    width = BODY_W - (CHART_W + GAP if chart else 0.0)
    room = BODY_BOTTOM - BODY_TOP
    for size in TEXT_SIZES:
        if _height(section.blocks, size, width) <= room:
            return [Page(section.title, size, list(section.blocks), chart)]
    size = TEXT_SIZES[-1]
    units = _units(section.blocks)
    starts: list[int] = []
    start = 0
    while start < len(units) and len(starts) < MAX_PAGES:
        end = start + 1
        while end < len(units) and _height(
                _rebuild(section.blocks, units[start:end + 1]), size, width) <= room:
            end += 1
        starts.append(start)
        start = end
    pages = [_rebuild(section.blocks, units[a:b])
             for a, b in zip(starts, [*starts[1:], start], strict=True)]
    if start < len(units):
        shown = units[starts[-1]:start]
        while True:
            more = Para([Run(f"… and {len(units) - starts[-1] - len(shown)} more.")])
            last = [*_rebuild(section.blocks, shown), more]
            if len(shown) <= 1 or _height(last, size, width) <= room:
                break
            shown = shown[:-1]
        pages[-1] = last
    return [Page(section.title + ("" if i == 0 else " (continued)"), size, blocks,
                 chart and i == 0) for i, blocks in enumerate(pages)]


def fit_line(text: str, size: float, width: float, bold: bool = False) -> str:
    """`text`, cut at a word and ended with '…' if it is wider than one line of `width`."""
    if text_width(text, size, bold) <= width:
        return text
    words = text.split()
    while len(words) > 1 and text_width(" ".join(words) + " …", size, bold) > width:
        words.pop()
    cut = " ".join(words)
    while cut and text_width(cut + "…", size, bold) > width:
        cut = cut[:-1]
    return cut.rstrip() + "…"


# --- writing the slides ------------------------------------------------------------------------


def _style(run, size: float, bold: bool = False, color: RGBColor = INK) -> None:
    run.font.name = FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = color


def _bullet(paragraph) -> None:
    props = paragraph._p.get_or_add_pPr()
    props.set("marL", str(Pt(BULLET_INDENT)))
    props.set("indent", str(-Pt(BULLET_INDENT)))
    char = props.makeelement(qn("a:buChar"), {"char": "•"})
    props.append(char)


def _text_box(slide, left: float, top: float, width: float, height: float):
    box = slide.shapes.add_textbox(Pt(left), Pt(top), Pt(width), Pt(height))
    frame = box.text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    frame.margin_left = frame.margin_right = Pt(INSET_X)
    frame.margin_top = frame.margin_bottom = Pt(INSET_Y)
    return box


def _fill(frame, paras: Sequence[Para], size: float, color: RGBColor = INK) -> None:
    for n, para in enumerate(paras):
        paragraph = frame.paragraphs[0] if n == 0 else frame.add_paragraph()
        paragraph.space_before = Pt(0 if n == 0 else size * 0.4)
        if para.bullet:
            _bullet(paragraph)
        for part in para.runs:
            run = paragraph.add_run()
            run.text = part.text
            _style(run, size, part.bold, color)


def _write_text(slide, paras: list[Para], size: float, top: float, width: float,
                left: float = MARGIN) -> float:
    height = _height(paras, size, width)
    _fill(_text_box(slide, left, top, width, height).text_frame, paras, size)
    return height


def _write_table(slide, table: Table, size: float, top: float, width: float) -> float:
    ts = _table_size(size)
    widths = _column_widths(table, ts, width)
    rows = [table.header, *table.rows]
    heights = [_row_height(r, widths, ts) for r in rows]
    shape = slide.shapes.add_table(len(rows), len(widths), Pt(MARGIN), Pt(top), Pt(width),
                                   Pt(sum(heights)))
    grid = shape.table
    for i, w in enumerate(widths):
        grid.columns[i].width = Pt(w)
    for r, (cells, h) in enumerate(zip(rows, heights, strict=True)):
        grid.rows[r].height = Pt(h)
        for c, runs in enumerate(cells):
            cell = grid.cell(r, c)
            cell.margin_left = cell.margin_right = Pt(CELL_X)
            cell.margin_top = cell.margin_bottom = Pt(CELL_Y)
            paragraph = cell.text_frame.paragraphs[0]
            for part in runs:
                run = paragraph.add_run()
                run.text = part.text
                _style(run, ts, part.bold or r == 0,
                       RGBColor(0xFF, 0xFF, 0xFF) if r == 0 else INK)
    return sum(heights) + GAP


def _chart(slide, revenue: dict[str, Any], prompts: Prompts) -> None:
    data = CategoryChartData(number_format=money_number_format(prompts.currency, prompts.locale))
    quarters = revenue["quarters"]
    data.categories = [quarter_name(q["period"].start, q["partial"], prompts.fiscal_start)
                       for q in quarters]
    data.add_series(kpi_label("revenue"), [q["revenue_cents"] / 100 for q in quarters])
    data.add_series(kpi_label("gross_margin"), [q["gross_margin_cents"] / 100 for q in quarters])
    frame = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Pt(MARGIN), Pt(BODY_TOP),
                                   Pt(CHART_W), Pt(BODY_BOTTOM - BODY_TOP), data)
    chart = frame.chart
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.BOTTOM
    chart.legend.include_in_layout = False
    chart.font.size = Pt(11)
    chart.font.name = FONT
    axis = chart.value_axis
    axis.tick_labels.number_format = data.number_format
    axis.tick_labels.number_format_is_linked = False
    axis.has_major_gridlines = True
    for series, color in zip(chart.plots[0].series, (ACCENT, MARGIN_LINE), strict=True):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = color
    for i, q in enumerate(quarters):
        if q["partial"]:  # the quarter under way, lighter
            point = chart.plots[0].series[0].points[i]
            point.format.fill.solid()
            point.format.fill.fore_color.rgb = LIGHT


def _title(slide, text: str) -> None:
    size = next((s for s in TITLE_SIZES if text_width(text, s, True) <= BODY_W - 2 * INSET_X),
                TITLE_SIZES[-1])
    box = _text_box(slide, MARGIN, TITLE_TOP, BODY_W, TITLE_H)
    run = box.text_frame.paragraphs[0].add_run()
    run.text = fit_line(text, size, BODY_W - 2 * INSET_X, bold=True)
    _style(run, size, True)


def _footer(slide, name: str, number: int, total: int) -> None:
    box = _text_box(slide, MARGIN, FOOTER_TOP, BODY_W, FOOTER_SIZE * LINE_HEIGHT + 2 * INSET_Y)
    run = box.text_frame.paragraphs[0].add_run()
    run.text = f"{fit_line(name, FOOTER_SIZE, BODY_W - 120)} · {number}/{total}"
    _style(run, FOOTER_SIZE, color=MUTED)


def _title_slide(slide, name: str, intro: list[Para]) -> None:
    width = BODY_W - 2 * INSET_X
    size = next((s for s in NAME_SIZES if line_count([Run(name, True)], s, width) <= 2),
                NAME_SIZES[-1])
    shown = name if line_count([Run(name, True)], size, width) <= 2 else \
        fit_line(name, size, 2 * width - text_width("MMMMM", size, True), bold=True)
    height = 2 * size * LINE_HEIGHT + 2 * INSET_Y
    box = _text_box(slide, MARGIN, 150.0, BODY_W, height)
    run = box.text_frame.paragraphs[0].add_run()
    run.text = shown
    _style(run, size, True, ACCENT)
    top = 150.0 + height + GAP
    for para in intro:
        top += _write_text(slide, [para], 18.0, top, BODY_W)


def write_deck(markdown: str, revenue: dict[str, Any], prompts: Prompts, path: Path
               ) -> list[dict[str, Any]]:
    """Write the deck for the template's `markdown` and the revenue by quarter to `path`;
    returns its slides (title, font size, continued or not)."""
    name, intro, sections = outline(markdown)
    deck = Presentation()
    deck.slide_width, deck.slide_height = Pt(SLIDE_W), Pt(SLIDE_H)
    blank = deck.slide_layouts[6]
    pages = [page for section in sections for page in paginate(section)]
    total = len(pages) + 1
    _title_slide(deck.slides.add_slide(blank), name, intro)
    slides = [{"title": name, "size": 40.0, "continued": False}]
    for number, page in enumerate(pages, start=2):
        slide = deck.slides.add_slide(blank)
        _title(slide, page.title)
        width = BODY_W - (CHART_W + GAP if page.chart else 0.0)
        if page.chart:
            _chart(slide, revenue, prompts)
        top, paras = BODY_TOP, []
        for block in [*page.blocks, None]:
            if isinstance(block, Para):
                paras.append(block)
                continue
            if paras:
                left = MARGIN + (CHART_W + GAP if page.chart else 0.0)
                top += _write_text(slide, paras, page.size, top, width, left) + GAP
                paras = []
            if isinstance(block, Table):
                top += _write_table(slide, block, page.size, top, width)
        _footer(slide, name, number, total)
        slides.append({"title": page.title, "size": page.size,
                       "continued": page.title.endswith("(continued)")})
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return slides


class QbrDecks:
    """QBR decks for a caller; built once from the session factory, the templates, the folder
    decks are written to and the KPI settings."""

    def __init__(self, sessions: sessionmaker[Session], prompts: Prompts, out_dir: Path,
                 config: KpiConfig | None = None) -> None:
        self.sessions = sessions
        self.prompts = prompts
        self.out_dir = Path(out_dir)
        self.config = config

    def draft(self, context: CallerContext, account: str, meeting: date | None = None,
              as_of: date | None = None, path: Path | None = None) -> dict[str, Any]:
        """Write the QBR deck of `account` (within the caller's scope) to `path` (default:
        <out_dir>/<account id>-qbr-deck.pptx); an error dict as the tools give one."""
        def build(engine: KpiEngine) -> dict[str, Any]:
            qbr = qbr_facts(engine, account, meeting)
            facts = qbr["f"]
            markdown = self.prompts.render("qbr_deck.md.j2", **qbr)
            account_id = facts["account"]["account_id"]
            target = path or self.out_dir / f"{account_id}-qbr-deck.pptx"
            slides = write_deck(markdown, qbr["revenue"], self.prompts, target)
            return {"account": {"account_id": account_id, "name": facts["account"]["name"]},
                    "as_of": facts["as_of"], "kind": "qbr_deck", "path": str(target),
                    "slides": slides, "markdown": markdown}

        return run_view(self.sessions, context, as_of, build, self.config)
