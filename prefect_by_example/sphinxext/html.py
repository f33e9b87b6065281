"""What the HTML pages get on the way out: only shipped assets, SVGs with accessible names."""

from __future__ import annotations

import re

from sphinx.application import Sphinx


def drop_assets_we_do_not_ship(app: Sphinx, pagename: str, templatename, context, doctree):
    """Link only files the site holds: it works offline and tells no other host who reads it.

    jupyter-sphinx adds the ipywidgets loaders from CDNs to every page (no page shows a
    widget) and links its Thebe files even when Thebe is off, when it does not copy them.
    """
    thebe = bool(app.config.jupyter_sphinx_thebelab_config)

    def shipped(asset) -> bool:
        name = str(getattr(asset, "filename", asset))
        return "://" not in name and (thebe or not name.rpartition("/")[2].startswith("thebelab"))

    for key in ("script_files", "css_files"):
        if context.get(key) is not None:
            context[key][:] = [asset for asset in context[key] if shipped(asset)]


SVG_OBJECT = re.compile(
    r'<object (data="[^"]*" type="image/svg\+xml" class="[^"]*")>\s*<p class="warning">(.*?)</p>',
    re.S,
)


def name_svg_objects(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Give sphinx.ext.graphviz's SVG <object> its alt text as an accessible name.

    Its alt text sits in a fallback paragraph that assistive technology never reaches.
    """
    if "body" in context:
        named = r'<object \1 role="img" aria-label="\2">\n<p class="warning">\2</p>'
        context["body"] = SVG_OBJECT.sub(named, context["body"])
