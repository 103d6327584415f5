"""Serve the site's scripts from the site itself, so the book works with no network.

* MathJax: ``mathjax_path`` (in ``_config.yml``) points at the copy in ``_static/vendor``.
* mermaid: sphinxcontrib-mermaid loads mermaid as an ES module from a CDN (or from a local module,
  which browsers refuse to import from ``file://`` pages). This extension removes that script and adds,
  on the pages that have a diagram only, the vendored UMD bundle plus a small starter script, both
  ordinary scripts that work from a web server and from a folder opened directly.
* Theme fixes (``_static/site-fixes.js``, ``_static/site.css``): the visible sidebar buttons open the sidebars
  (the theme binds only the first, hidden one), the colour mode defaults to ``auto``, long output lines
  wrap, and a click on a notebook's figure shows it at full size (for a projector).
* Duplicate scripts: Jupyter Book 1 adds sphinx-thebe's configuration twice; one copy is kept.
* Build reports: ``_build/html/reports`` holds execution logs with local paths; they are removed from
  the published folder after the build (the logs stay in ``_build/.jupyter_cache``).
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _drop_mermaid_cdn_script(app) -> None:
    listeners = app.events.listeners.get("html-page-context", [])
    for listener in list(listeners):
        handler = listener.handler
        if getattr(handler, "__module__", "").startswith("sphinxcontrib.mermaid") and handler.__name__ == "install_js":
            app.disconnect(listener.id)


def _add_local_mermaid(app, pagename, templatename, context, doctree) -> None:
    from sphinxcontrib.mermaid import mermaid

    if doctree is not None and doctree.next_node(mermaid):
        app.add_js_file("vendor/mermaid/dist/mermaid.min.js")
        app.add_js_file("mermaid-offline.js")


def _theme_defaults(app, pagename, templatename, context, doctree) -> None:
    """An empty colour mode makes the theme log a console error on a reader's first visit."""
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script: sphinx-thebe's configuration is added twice by Jupyter Book 1,
    and the second ``const THEBE_JS_URL`` declaration is a console error on every page."""
    files = context.get("script_files")
    if not files:
        return
    seen, kept = set(), []
    for js in files:
        name = getattr(js, "filename", js) or ""  # an inline script is registered with None or ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    files[:] = kept


def _remove_reports(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.rmtree(Path(app.outdir) / "reports", ignore_errors=True)


def setup(app):
    app.connect("builder-inited", _drop_mermaid_cdn_script)
    app.connect("html-page-context", _add_local_mermaid)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", _theme_defaults)
    app.add_js_file("site-fixes.js")
    app.add_css_file("site.css")
    app.connect("build-finished", _remove_reports)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
