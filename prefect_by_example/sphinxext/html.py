"""What the HTML pages get on the way out: downloads with outputs, only shipped assets, named SVGs."""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx


def publish_notebook_with_outputs(app: Sphinx, pagename: str, templatename, context, doctree):
    """Serve the executed notebook as the page's .ipynb download, outputs included.

    On a cache hit myst-nb hands the theme a notebook without outputs; the cache has them.
    """
    source = Path(app.env.doc2path(pagename))
    if not context.get("ipynb_source") or source.suffix != ".md":
        return
    import nbformat
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook(source.read_text(encoding="utf8"))
    cache = get_cache(app.env.mystnb_config.execution_cache_path)
    try:
        _, notebook = cache.merge_match_into_notebook(notebook)
    except KeyError:
        return  # executed outside the cache (force mode): the theme's copy has its outputs
    nbformat.write(notebook, Path(app.outdir, "_sources", pagename + ".ipynb"))


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
