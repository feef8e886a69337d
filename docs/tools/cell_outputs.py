"""Sphinx extension: cell outputs that fit the page and name no file of the build machine.

Once a page is read, the text of every cell output is changed in two ways that affect
only how it is shown (the run itself, its values and its line breaks in the notebook,
are untouched):

- **Paths.** A traceback or warning names files by their absolute paths on the machine
  that executed the page (the clone, ``.nox/docs/lib/python3.11/site-packages``,
  ``/tmp/ipykernel_...``); ``build_paths.relative`` makes them what a reader's machine
  would show after its own prefix: ``backendkit/functional.py``, ``jax/_src/...``,
  ``<cell>``. The error, the line numbers and the call chain stay as they ran.
- **Width.** A line longer than :data:`WIDTH` characters, which the text column of the
  site cannot show, is wrapped at spaces, its continuation indented to where the line's
  last column starts (after its last run of two or more spaces, or under its first
  word): an error message next to a backend's name continues under the message, not
  under the name. A line whose aligned columns themselves go past the width is left as
  it is: such a table must be made narrower at its source, and ``check_site.py`` fails
  on it. Tracebacks, whose colours are escape codes, are wrapped by the site's style
  sheet instead.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from build_paths import relative
from docutils import nodes
from sphinx.application import Sphinx

#: characters of an output line that the text column shows at desktop width (1280 px)
WIDTH = 88
#: a continuation needs at least this many characters of room beside its indent
_ROOM = 24
_COLUMN_GAP = re.compile(r"\S( {2,})(?=\S)")
_ANSI = "\x1b["


def wrap_line(line: str, width: int = WIDTH) -> str:
    """``line`` wrapped to ``width``, continuations under its last column (see above).

    >>> print(wrap_line("numpy  put(x, 9) -> IndexError: index 9 is out of bounds", 40))
    numpy  put(x, 9) -> IndexError: index 9
           is out of bounds
    """
    line = line.expandtabs(8)
    if len(line) <= width:
        return line
    starts = [m.end(1) for m in _COLUMN_GAP.finditer(line[:width])]
    indent = starts[-1] if starts else len(line) - len(line.lstrip(" "))
    if indent > width - _ROOM:  # the columns themselves are too wide: leave it be
        return line
    head, tail = line[:indent], line[indent:]
    wrapped = textwrap.wrap(
        tail,
        width=width - indent,
        break_long_words=True,
        break_on_hyphens=False,
        drop_whitespace=True,
    )
    return "\n".join([head + wrapped[0], *(" " * indent + rest for rest in wrapped[1:])])


def shown(text: str) -> str:
    """``text`` as the site shows it: machine paths relative, long lines wrapped."""
    text = relative(text)
    if _ANSI in text:
        return text
    return "\n".join(wrap_line(line) for line in text.split("\n"))


def _is_output(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and "cell_output" in node.get("classes", [])


def _inside(node: nodes.Node, kind: type) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kind):
            return True
        parent = parent.parent
    return False


def show_outputs(app: Sphinx, doctree: nodes.document) -> None:
    """Rewrite every cell output of ``doctree`` as :func:`shown` says."""
    for output in doctree.findall(_is_output):
        for block in list(output.findall(nodes.literal_block)):
            text = shown(block.astext())
            if text != block.astext():
                block.children = []
                block += nodes.Text(text)
            # highlighted from its rawsource, which must match its text to be highlighted
            block.rawsource = text
        for text in list(output.findall(nodes.Text)):
            if _inside(text, nodes.literal_block):
                continue
            new = relative(str(text))
            if new != text:
                text.parent.replace(text, nodes.Text(new))
        for raw in output.findall(nodes.raw):
            raw.rawsource = relative(raw.rawsource)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", show_outputs)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
