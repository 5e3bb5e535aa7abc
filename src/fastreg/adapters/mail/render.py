"""The emails' contents: Jinja2 templates (``templates/<name>.subject.txt``, ``<name>.txt``, ``<name>.html``)
whose words come from the console's zh/en catalogues (keys ``mail.<name>.*``). The HTML part is autoescaped, so
what an operator typed (an OA's name, an address) is text there, never markup; the plain-text part says it as
typed."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from fastreg.services.ports.worker import MailContent

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class JinjaMailTemplates:
    """Renders a mail in both of the console's languages (Chinese first, then English)."""

    def render(self, template: str, **params: object) -> MailContent:
        from fastreg.web.console.translations import translator  # at render time: no import cycle

        values = {"zh": translator("zh"), "en": translator("en"), **params}
        return MailContent(
            subject=_ENV.get_template(f"{template}.subject.txt").render(values).strip(),
            text=_ENV.get_template(f"{template}.txt").render(values),
            html=_ENV.get_template(f"{template}.html").render(values),
        )
