"""Resolve links to the package's public names as readers write them: ``aigc_lessons.gan.train_dcgan``.

The API reference documents each object once, in the file that defines it
(``aigc_lessons.gan.dcgan.train_dcgan``); the chapter sub-packages re-export their public names, and
docstrings and pages may name an object through its package (``aigc_lessons.gan.train_dcgan``) or, inside
a package's own docstring, by its bare name. When Sphinx cannot find such a target, this extension
imports it, finds the module where the object is defined and documented, and resolves the link there.
A name that does not exist still fails the build (warnings are errors), so a renamed function breaks it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re


def lookup(dotted: str):
    """The object that a dotted name like ``aigc_lessons.gan.train_dcgan`` names, or ``None``."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


def _defining_name(dotted: str) -> str | None:
    """The dotted name under which the object ``dotted`` is documented."""
    if not dotted.startswith("aigc_lessons."):
        return None
    obj = lookup(dotted)
    if obj is None:
        return None
    obj = getattr(obj, "__func__", obj)  # a classmethod looked up on its class
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    if inspect.ismodule(obj):
        return obj.__name__
    # a module-level value: the submodule of the package that lists it in __all__
    package, name = dotted.rsplit(".", 1)
    pkg = lookup(package)
    for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
        mod = importlib.import_module(f"{package}.{info.name}")
        if name in getattr(mod, "__all__", ()) and getattr(mod, name, None) is obj:
            return f"{mod.__name__}.{name}"
    return None


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module = node.get("py:module") or ""
    for candidate in (target, f"{module}.{target}" if module else None):
        if not candidate:
            continue
        canonical = _defining_name(candidate)
        if canonical and canonical != candidate:
            domain = env.get_domain("py")
            ref = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode)
            if ref is None:
                ref = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", canonical, node, contnode)
            if ref is not None:
                return ref
    return None


#: The end of a docstring's first sentence: a full stop before a capital, not in "et al.", "e.g." or "i.e.".
SENTENCE_END = re.compile(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z])")


def first_sentence(doc: str) -> tuple[str, str]:
    """A docstring split into its first sentence (on one line, without the final full stop or colon) and the
    rest of the text after it. The API pages title each module with that sentence (``.ci/api_pages.py``)."""
    first, _, after = doc.strip().partition("\n\n")
    paragraph = " ".join(first.split())
    parts = SENTENCE_END.split(paragraph, maxsplit=1)
    rest = parts[1] if len(parts) > 1 else ""
    return parts[0].rstrip(".:"), "\n\n".join(x for x in (rest, after) if x)


def _drop_module_title(app, what, name, obj, options, lines):
    """A module's docstring without its first sentence: the API page's section heading already says it."""
    if what != "module" or not name.startswith("aigc_lessons") or not lines:
        return
    _, rest = first_sentence("\n".join(lines))
    lines[:] = rest.split("\n") if rest else []


def setup(app):
    app.connect("missing-reference", _missing_reference)
    app.connect("autodoc-process-docstring", _drop_module_title)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
