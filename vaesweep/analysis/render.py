"""One grid, three text formats: Markdown, HTML and LaTeX.

Tables and the claims ledger are laid out once as a ``Grid`` (header levels with column spans,
body rows, block titles between row groups, bold cells) and written in whichever format the
report asks for, so the three outputs cannot drift apart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

REPORT_FORMATS = ("md", "html", "latex", "csv")  # csv: the frames behind the tables


@dataclass
class Grid:
    """``header``: levels of (text, column span); ``body``: rows of cells or a block title."""

    header: list[list[tuple[str, int]]]
    body: list[list[str] | str] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)  # (body row, column)
    latex_columns: str = ""  # a tabular column spec; default: the first left, the rest right

    @property
    def width(self) -> int:
        return sum(span for _, span in self.header[-1])

    def column_names(self) -> list[str]:
        """Header levels joined per column (Markdown has a single header row)."""
        names = [""] * self.width
        for level in self.header:
            position = 0
            for text, span in level:
                for column in range(position, position + span):
                    names[column] = f"{names[column]} {text}".strip()
                position += span
        return names


def render(grid: Grid, fmt: str) -> str:
    return {"md": to_markdown, "html": to_html, "latex": to_latex}[fmt](grid)


def _cells(grid: Grid, row_index: int, row: list[str], mark) -> list[str]:
    return [mark(text) if (row_index, j) in grid.bold else text for j, text in enumerate(row)]


def to_markdown(grid: Grid) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| " + " | ".join(escape(n) for n in grid.column_names()) + " |",
        "|" + "|".join([":---"] + ["---:"] * (grid.width - 1)) + "|",
    ]
    for i, row in enumerate(grid.body):
        if isinstance(row, str):
            lines.append("| " + " | ".join([f"**{escape(row)}**"] + [""] * (grid.width - 1)) + " |")
        else:
            cells = _cells(grid, i, [escape(c) for c in row], lambda t: f"**{t}**" if t else t)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_html(grid: Grid) -> str:
    out = ["<table>", "<thead>"]
    for level in grid.header:
        cells = "".join(
            f'<th colspan="{span}">{html.escape(text)}</th>' if span > 1 else f"<th>{html.escape(text)}</th>"
            for text, span in level
        )
        out.append(f"<tr>{cells}</tr>")
    out += ["</thead>", "<tbody>"]
    for i, row in enumerate(grid.body):
        if isinstance(row, str):
            out.append(f'<tr class="block"><th colspan="{grid.width}">{html.escape(row)}</th></tr>')
            continue
        cells = _cells(grid, i, [html.escape(c) for c in row], lambda t: f"<b>{t}</b>")
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(grid: Grid) -> str:
    columns = grid.latex_columns or "l" + "r" * (grid.width - 1)
    out = [rf"\begin{{tabular}}{{{columns}}}", r"\toprule"]
    for level in grid.header:
        cells = [
            rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(text)}}}" if span > 1 else latex_escape(text)
            for text, span in level
        ]
        out.append(" & ".join(cells) + r" \\")
    out.append(r"\midrule")
    for i, row in enumerate(grid.body):
        if isinstance(row, str):
            out.append(rf"\multicolumn{{{grid.width}}}{{l}}{{\textit{{{latex_escape(row)}}}}} \\")
            continue
        cells = _cells(grid, i, [latex_escape(c) for c in row], lambda t: rf"\textbf{{{t}}}")
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out)


def render_list(items: list[str], fmt: str) -> str:
    """A bulleted list (notes, claims not run) in the same three formats."""
    if fmt == "md":
        return "\n".join(f"- {item}" for item in items)
    if fmt == "html":
        return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"
    return "\n".join(
        [r"\begin{itemize}", *(rf"\item {latex_escape(item)}" for item in items), r"\end{itemize}"]
    )
