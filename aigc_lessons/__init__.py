"""aigc_lessons: the helper package of the course book *AIGC from Zero to Practice*.

One module per topic. Notebooks call into this package so that the code a reader runs is the
code the tests check. Nothing here holds global state: :mod:`aigc_lessons.runtime` resolves
mode, device and seeds from explicit arguments or the environment each time it is asked.
"""

__version__ = "0.1.0"
