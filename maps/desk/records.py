"""What the record pages (调解 /desk/mediation, 民情诉求 /desk/needs) share: the page configuration their forms'
script (static/js/desk/records.js, through desk/api.js) reads as ``window.GRIDPATROL`` — its language, so that
errors are said in the page's language and the API is asked in it."""

from __future__ import annotations

import json

from markupsafe import Markup

from maps.desk.common import pick


def records_config(lang: str | None) -> Markup:
    """The JSON of ``window.GRIDPATROL`` for a record page, safe inside its inline script."""
    return Markup(json.dumps({"lang": pick(lang), "labels": {}}).replace("</", "<\\/"))
