"""Making data safe to show: HTML escaping and spreadsheet-formula neutralising.

Every value that comes from the data passes through ``text`` before it reaches the report:
it is HTML-escaped (quotes included, so it is safe in attributes too), and a text starting with
``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) gets a leading apostrophe so that, copied
into a spreadsheet, it stays text instead of becoming a formula (OWASP CSV-injection advice).
``esc`` only escapes: for numbers and strings the report formats itself.
"""

from __future__ import annotations

import html

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """``value`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def esc(value: object) -> str:
    """HTML-escape ``str(value)`` (``None`` → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def text(value: object) -> str:
    """A text value from the data, neutralised and escaped (``None`` → empty)."""
    if value is None:
        return ""
    return html.escape(neutralise(str(value)), quote=True)
