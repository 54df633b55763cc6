"""The simple HTML version of a plain-text email: everything escaped, system links clickable."""

from __future__ import annotations

import html
from collections.abc import Iterable


def to_html(body: str, links: Iterable[str] = ()) -> str:
    paragraphs = [p.strip() for p in body.replace("\r\n", "\n").split("\n\n") if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph, quote=True)
        for url in links:
            if url:
                safe = html.escape(url, quote=True)
                escaped = escaped.replace(safe, f'<a href="{safe}">{safe}</a>')
        out.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)
