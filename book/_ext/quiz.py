"""A ``quiz`` directive: a concept question whose answers give instant feedback in the browser, offline.

In a page::

    ```{quiz}
    question: Where does the optimal discriminator equal 1/2?
    choices:
      - text: Wherever $p_{data} = p_g$.
        correct: true
        why: $D^* = p_{data}/(p_{data}+p_g)$ is 1/2 exactly where the two densities agree.
      - text: Nowhere; $D^*$ is a density.
        why: $D^*$ is a ratio of densities with values in [0, 1], not a density.
    ```

Each text is parsed as MyST, so math, roles and links work. The page gets a block with the question and
one button per choice; ``_static/quiz.js`` marks a clicked choice right or wrong and shows why. Without
JavaScript (a printed page) every choice and explanation is shown, the right ones marked. A question needs
at least two choices and exactly one marked ``correct: true``, each with a ``why``; anything else fails the
build with the page and the problem.
"""

from __future__ import annotations

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


class Quiz(SphinxDirective):
    has_content = True

    def _parse_into(self, text: str, classes: list[str]) -> nodes.container:
        box = nodes.container(classes=classes)
        self.state.nested_parse(StringList(str(text).strip().splitlines(), source=self.get_source_info()[0]),
                                self.content_offset, box)
        return box

    def run(self):
        try:
            data = yaml.safe_load("\n".join(self.content))
        except yaml.YAMLError as e:
            raise self.error(f"quiz: the body is not valid YAML: {e}")
        if not isinstance(data, dict) or "question" not in data or not isinstance(data.get("choices"), list):
            raise self.error("quiz: needs 'question' and a list of 'choices'")
        choices = data["choices"]
        if len(choices) < 2 or sum(bool(c.get("correct")) for c in choices) != 1:
            raise self.error("quiz: needs at least two choices and exactly one with 'correct: true'")
        if any(not c.get("text") or not c.get("why") for c in choices):
            raise self.error("quiz: every choice needs a 'text' and a 'why'")
        root = nodes.container(classes=["quiz"])
        root += self._parse_into(data["question"], ["quiz-question"])
        for c in choices:
            choice = nodes.container(classes=["quiz-choice"] + (["quiz-correct"] if c.get("correct") else []))
            choice += self._parse_into(c["text"], ["quiz-choice-text"])
            choice += self._parse_into(c["why"], ["quiz-why"])
            root += choice
        return [root]


def setup(app):
    app.add_directive("quiz", Quiz)
    app.add_js_file("quiz.js")
    app.add_css_file("quiz.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
