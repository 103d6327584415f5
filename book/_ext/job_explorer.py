"""A ``job-explorer`` directive: the careers chapter's job self-check, working on the static site.

In a page::

    ```{job-explorer}
    ```

The page gets an empty block that ``_static/job_explorer.js`` fills with a search box. The data come from
the same joined table as notebook 9 (:func:`aigc_lessons.careers.explorer.explorer_payload`), written by
this extension at the end of every HTML build as ``_static/job-explorer-data.js``: an ordinary script, so
the explorer works from a web server and from a folder opened directly, with no network. The data files
are never committed; the build reads them from the data mirror or the cache like the notebooks do.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

DATA_SCRIPT = "job-explorer-data.js"
_MARK = 'id="job-explorer"'


# What the block says on paper (the PDF) and without JavaScript, in the edition's language: raw HTML is not cut
# into the translation catalogues, so the Chinese text lives here.
STATIC_TEXT = {
    "en": "The job explorer runs in the web browser and needs JavaScript. On paper, or without JavaScript, "
          "notebook 10 answers the same question with a search that understands descriptions in your own words.",
    "zh": "职业浏览器在网页浏览器中运行，需要 JavaScript。在纸面上或没有 JavaScript 时，笔记本 10 回答同一个问题："
          "它的搜索能理解你用自己的话写的描述。",
}


def static_text(language: str | None) -> str:
    """The block's fallback text for a Sphinx ``language`` setting (``zh_CN`` -> Chinese; English otherwise)."""
    return STATIC_TEXT["zh" if (language or "").lower().startswith("zh") else "en"]


class JobExplorer(SphinxDirective):
    has_content = False

    def run(self):
        html = (f'<div {_MARK} class="job-explorer">'
                f'<p class="job-explorer-static">{static_text(self.config.language)}</p></div>')
        return [nodes.raw("", html, format="html")]


def _has_explorer(doctree) -> bool:
    return doctree is not None and any(_MARK in n.astext() for n in doctree.findall(nodes.raw))


def _add_assets(app, pagename, templatename, context, doctree) -> None:
    if _has_explorer(doctree):
        app.add_js_file(DATA_SCRIPT)
        app.add_js_file("job_explorer.js")
        app.add_css_file("job_explorer.css")
        app.env.aigc_job_explorer_used = True


def _write_data(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / DATA_SCRIPT
    if getattr(app.env, "aigc_job_explorer_used", False) or not target.exists():
        from aigc_lessons.careers.explorer import write_explorer_script

        write_explorer_script(target)


def setup(app):
    app.add_directive("job-explorer", JobExplorer)
    app.connect("html-page-context", _add_assets)
    app.connect("build-finished", _write_data)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
