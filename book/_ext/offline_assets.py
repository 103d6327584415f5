"""Serve the site's scripts from the site itself, so the book works with no network.

* MathJax: ``mathjax_path`` (in ``_config.yml``) points at the copy in ``_static/vendor``.
* mermaid: sphinxcontrib-mermaid loads mermaid as an ES module from a CDN (or from a local module,
  which browsers refuse to import from ``file://`` pages). This extension removes that script and adds,
  on the pages that have a diagram only, the vendored UMD bundle plus a small starter script, both
  ordinary scripts that work from a web server and from a folder opened directly.
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


def _remove_reports(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.rmtree(Path(app.outdir) / "reports", ignore_errors=True)


def setup(app):
    app.connect("builder-inited", _drop_mermaid_cdn_script)
    app.connect("html-page-context", _add_local_mermaid)
    app.connect("build-finished", _remove_reports)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
