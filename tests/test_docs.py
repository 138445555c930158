"""The documentation's Python examples run.

Every fenced ```python block in ``README.md`` and ``docs/*.md`` is executed: the blocks of
one file in order, in one namespace per file (a later block may use names an earlier one
defined), in a fresh temporary working directory (files an example writes go there).
A block opts out only with a marker comment on its first line::

    # doctest: skip

used for blocks that need something a test cannot have (say why in the doc).  Blocks in
other languages (bash, java, plain ```) are not run.
"""
import os
import re
import time

import pytest

from numba_ae import unregister_activation
from numba_ae.kernels.activations import REGISTRY as ACTIVATIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_MARKER = "# doctest: skip"

# An opening fence (``` or ~~~, optionally indented), its info string, the body, the
# matching closing fence.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<info>[^\n`]*)\n"
                    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.M | re.S)


def doc_files():
    """README.md and docs/*.md, relative to the repository root (sorted)."""
    files = ["README.md"]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        files += sorted(os.path.join("docs", f) for f in os.listdir(docs) if f.endswith(".md"))
    return [f for f in files if os.path.isfile(os.path.join(ROOT, f))]


def python_blocks(text):
    """``(line, source, skipped)`` of each ```python block of a Markdown text (line: 1-based
    line of the block's first source line)."""
    out = []
    for m in _FENCE.finditer(text):
        info = m.group("info").strip().split()
        if not info or info[0].lower() not in ("python", "py", "python3"):
            continue
        body = m.group("body")
        indent = m.group("indent")
        if indent:
            body = "".join(l[len(indent):] if l.startswith(indent) else l
                           for l in body.splitlines(keepends=True))
        line = text.count("\n", 0, m.start("body")) + 1
        first = body.lstrip("\n").split("\n", 1)[0].strip()
        out.append((line, body, first.lower().startswith(SKIP_MARKER)))
    return out


def test_block_finder():
    text = ("x\n```python\na = 1\n```\n```bash\nls\n```\n"
            "```python\n# doctest: skip (needs a GPU)\nraise SystemExit\n```\n"
            "```\nplain\n```\n~~~py\nb = 2\n~~~\n")
    blocks = python_blocks(text)
    assert [(l, s, k) for l, s, k in blocks] == [
        (3, "a = 1\n", False), (9, "# doctest: skip (needs a GPU)\nraise SystemExit\n", True),
        (16, "b = 2\n", False)]


@pytest.mark.parametrize("relpath", doc_files())
def test_doc_examples(relpath, tmp_path, monkeypatch):
    """Run the file's Python blocks in order, in one namespace, in a temp directory."""
    path = os.path.join(ROOT, relpath)
    with open(path, encoding="utf-8") as f:
        blocks = python_blocks(f.read())
    runnable = [(line, src) for line, src, skipped in blocks if not skipped]
    if not runnable:
        pytest.skip(f"{relpath}: no runnable python blocks")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc_example__", "__file__": path}
    registered = set(ACTIVATIONS)
    try:
        for line, src in runnable:
            code = compile("\n" * (line - 1) + src, path, "exec")  # tracebacks show the doc's line
            t0 = time.perf_counter()
            try:
                exec(code, namespace)
            except BaseException as e:  # SystemExit too: a block must not end the run
                raise AssertionError(f"{relpath}:{line}: the python block failed: "
                                     f"{type(e).__name__}: {e}") from e
            print(f"{relpath}:{line}: {time.perf_counter() - t0:.2f} s")
    finally:  # activations an example registered do not leak into later tests
        for name in set(ACTIVATIONS) - registered:
            unregister_activation(name)
