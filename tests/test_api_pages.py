"""The API reference (.ci/api_pages.py and book/_ext/api_links.py): each module's first sentence is its section's
heading, and the docstring shown below the heading starts after that sentence instead of repeating it."""

from .ci_scripts import load_script

api_links = load_script("book/_ext/api_links.py")


def test_the_first_sentence_is_split_off_once():
    doc = "What attention costs: time and memory, e.g. for long inputs. Measured by Vaswani et al. 2017.\n\nMore."
    assert api_links.first_sentence(doc) == ("What attention costs: time and memory, e.g. for long inputs",
                                             "Measured by Vaswani et al. 2017.\n\nMore.")
    assert api_links.first_sentence("One sentence only.") == ("One sentence only", "")


def test_a_module_docstring_loses_its_first_sentence_on_the_page():
    lines = ["Self-attention from its formula.", "", "The rest of the chapter.", ""]
    api_links._drop_module_title(None, "module", "aigc_lessons.attention.core", None, {}, lines)
    assert lines == ["The rest of the chapter."]
    lines = ["A function's docstring keeps its first line.", "", "More."]
    api_links._drop_module_title(None, "function", "aigc_lessons.attention.core.attention", None, {}, lines)
    assert lines[0] == "A function's docstring keeps its first line."
    lines = ["Only a title."]
    api_links._drop_module_title(None, "module", "aigc_lessons.ema", None, {}, lines)
    assert lines == []


def test_the_page_headings_use_the_same_sentence():
    api_pages = load_script(".ci/api_pages.py")
    import aigc_lessons.attention.core as core

    assert api_pages.first_line(core) == api_links.first_sentence(core.__doc__)[0].replace("``", "`")
