"""The HTML of a report: plain elements and a small inline style sheet, nothing loaded from the
network. Every piece of text goes through ``html.escape``; paths are relative to the report folder.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from urllib.parse import quote

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f5f8; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
img { max-width: 100%; border: 1px solid #eee; }
.videos { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; display: table; }
figcaption { display: table-caption; caption-side: bottom; font-size: .85rem; color: #555; }
video { max-width: 100%; background: #111; }
.note { color: #555; font-size: .9rem; }
"""


def text(value: object) -> str:
    """``value`` as HTML text (escaped)."""
    return html.escape(str(value))


def number(value: float, digits: int = 4) -> str:
    """A number for a table cell: ``digits`` significant digits, NaN as a dash."""
    return "–" if math.isnan(value) else f"{value:.{digits}g}"


def link(path: str) -> str:
    """A relative path as an attribute value (percent-encoded, escaped)."""
    return html.escape(quote(path), quote=True)


def table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already-escaped cells under an escaped caption and escaped headers."""
    head = "".join(f"<th>{text(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><caption>{text(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image(path: str, alt: str) -> str:
    return f'<p><img src="{link(path)}" alt="{text(alt)}"></p>'


def video(path: str, caption: str) -> str:
    """A video element that plays in place (muted so that a browser lets it loop on its own)."""
    return (
        f'<figure><video controls muted loop preload="auto" src="{link(path)}"></video>'
        f"<figcaption>{text(caption)}</figcaption></figure>"
    )


def videos(items: Sequence[str]) -> str:
    return f'<div class="videos">{"".join(items)}</div>'


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{text(title)}</h2>{''.join(parts)}</section>"


def note(message: str) -> str:
    return f'<p class="note">{text(message)}</p>'


def page(title: str, parts: Sequence[str]) -> str:
    """The whole document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{text(title)}</h1>{''.join(parts)}</body></html>\n"
    )
