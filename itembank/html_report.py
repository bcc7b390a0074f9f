"""Self-contained HTML report pages (the demo's and the simulation study's): one inline stylesheet,
tables and figure cards, images as data URIs, so the file can be mailed or archived on its own."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:1180px;
color:#222;line-height:1.45}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.sub{color:#666;margin-top:.2em}
table.grid{border-collapse:collapse;margin:.6em 0;font-size:.9em}
table.grid th,table.grid td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-variant-numeric:tabular-nums}
table.grid th{background:#f2f2f2}
.ok{color:#11772d;font-weight:600}.bad{color:#b00020;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}
.card b{display:block;font-size:1.4em}img{max-width:100%}
"""


def table(frame: pd.DataFrame, digits: int = 2) -> str:
    """A DataFrame as a grid table, floats to ``digits`` places, missing values as a dash."""
    return frame.to_html(index=False, border=0, classes="grid", float_format=lambda v: f"{v:,.{digits}f}", na_rep="–")


def esc(value: Any) -> str:
    return html.escape(str(value))


def cards(pairs: list[tuple[str, str]]) -> str:
    """Headline figures as cards: (label, value) pairs."""
    return '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in pairs) + "</div>"


def page(title: str, sections: list[str]) -> str:
    """The whole document: each part in its own section."""
    body = "\n".join(f"<section>{part}</section>" for part in sections)
    return (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")
