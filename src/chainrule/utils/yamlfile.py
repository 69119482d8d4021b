"""Reading the YAML files users write (recipes, grids, worked-example specs), bounded, with
errors of one line.

Every YAML document chainrule reads goes through here, so every one gets the same guards:

- **Size.** A file is at most ``MAX_BYTES``; a document at most ``MAX_VALUES`` values *as
  expanded* (an alias ``*name`` repeats everything its anchor ``&name`` holds, so nine lines of
  nested aliases, the "billion laughs", describe 10⁹ values) and at most ``MAX_DEPTH`` levels
  deep, aliases followed; an alias inside its own anchor (a cycle) is refused. All of this is
  measured on the parsed node graph, shared nodes counted once each, before any Python value is
  built, so the check costs what the text costs.
- **Silent choices.** A key twice in one mapping is an error (YAML would keep the last one
  without a word); ``1e-3`` is the number 0.001, as in YAML 1.2 and JSON (YAML 1.1 reads an
  exponent without a dot as the string ``"1e-3"``).
- **Messages.** One line: ``FILE:LINE:COLUMN: what was wrong``; a file that is not UTF-8 names
  the byte and its offset; any value echoed in a message is cut to ``ECHO_LIMIT`` characters
  (:func:`short_repr`).
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "ECHO_LIMIT",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "load_yaml_text",
    "parse_override_value",
    "parse_yaml_mapping",
    "read_yaml_mapping",
    "read_yaml_text",
    "short_repr",
]

#: A recipe, grid or spec is a few kilobytes; a megabyte is far beyond any of them.
MAX_BYTES = 1 << 20
#: Values a document may expand to (every scalar, list and mapping counts one).
MAX_VALUES = 1_000_000
#: Nesting levels, aliases followed (a recipe needs about four).
MAX_DEPTH = 100
#: Characters of a value that an error message echoes.
ECHO_LIMIT = 80

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# Numbers with an exponent (1e-3, 5E4, 1.5e3): floats in YAML 1.2 and JSON. YAML 1.1's float
# pattern, which PyYAML follows, wants a dot and a signed exponent, and leaves these strings.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Refused(yaml.MarkedYAMLError):
    """A document over one of the bounds, or with a key twice: marked like a syntax error."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no tags that run code) that composes at most ``MAX_DEPTH`` deep."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # The composer recurses once per level; stop before Python's recursion limit does.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_BoundedLoader.add_implicit_resolver(_FLOAT_TAG, _EXPONENT_FLOAT, list("-+.0123456789"))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_keys(node: MappingNode) -> None:
    """A scalar key written twice in one mapping (merged ``<<`` keys may be overridden)."""
    first_seen: dict[tuple[str, str], Node] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue
        earlier = first_seen.get((key.tag, key.value))
        first_seen[(key.tag, key.value)] = earlier or key
        if earlier is not None:
            raise _Refused(
                f"key {short_repr(key.value)} appears twice in one mapping (first on line "
                f"{earlier.start_mark.line + 1}); YAML would keep only the last: give it once",
                key.start_mark,
            )


def _measure(
    node: Node, depth: int, sizes: dict[int, tuple[int, int]], open_nodes: set[int]
) -> tuple[int, int]:
    """(values, height) of ``node`` expanded, each shared node measured once (``sizes``).

    Raises ``_Refused`` past ``MAX_VALUES`` or ``MAX_DEPTH``, or for a node inside itself.
    """
    key = id(node)
    if key in sizes:
        size, height = sizes[key]
        if depth + height > MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep once its aliases are followed",
                node.start_mark,
            )
        return size, height
    if key in open_nodes:
        raise _Refused("an alias refers to the anchor it is inside (a cycle)", node.start_mark)
    if depth > MAX_DEPTH:
        raise _Refused(
            f"nested more than {MAX_DEPTH} levels deep once its aliases are followed",
            node.start_mark,
        )
    if isinstance(node, MappingNode):
        _check_keys(node)
    open_nodes.add(key)
    size, height = 1, 0
    for child in _children(node):
        child_size, child_height = _measure(child, depth + 1, sizes, open_nodes)
        size += child_size
        height = max(height, child_height + 1)
        if size > MAX_VALUES:
            raise _Refused(
                f"expands to more than {MAX_VALUES:,} values (each alias *name repeats all "
                "its anchor &name holds); a recipe, grid or spec needs far fewer",
                node.start_mark,
            )
    open_nodes.discard(key)
    sizes[key] = (size, height)
    return size, height


def _one_line(problem: yaml.YAMLError, source: str, text: str) -> str:
    """``FILE:LINE:COLUMN: what was wrong`` from any of PyYAML's errors."""
    if isinstance(problem, yaml.MarkedYAMLError):
        mark = problem.problem_mark or problem.context_mark
        what = problem.problem or problem.context or "not valid YAML"
        if problem.context and what.startswith("but "):  # "expected X" + "but found Y"
            what = f"{problem.context}, {what}"
        elif problem.context and problem.problem and problem.context_mark is not None:
            context_line = problem.context_mark.line + 1
            if mark is None or context_line != mark.line + 1:
                what += f" ({problem.context} that starts on line {context_line})"
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    elif isinstance(problem, yaml.reader.ReaderError):  # a control character such as NUL
        line = text.count("\n", 0, problem.position) + 1
        column = problem.position - (text.rfind("\n", 0, problem.position) + 1) + 1
        where = f"{source}:{line}:{column}"
        what = f"character #x{problem.character:04x} is not allowed in YAML ({problem.reason})"
    else:
        where, what = source, str(problem)
    if not isinstance(problem, _Refused):  # the rest are syntax: say so before PyYAML's words
        what = f"not valid YAML: {what}"
    return f"{where}: {_cut(what)}"


def _unconvertible(problem: ValueError, source: str) -> str:
    """A scalar PyYAML parsed but Python cannot convert: a date such as 2001-02-30, or an
    integer of more digits than Python reads (its advice about sys is not the user's fix)."""
    return f"{source}: a value cannot be read: {_cut(str(problem).split(';')[0])}"


def _cut(message: str, limit: int = 4 * ECHO_LIMIT) -> str:
    """``message`` on one line (PyYAML's own texts may hold newlines), at most ``limit`` long."""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _load(text: str) -> Any:
    """The value of ``text``; raises PyYAML's errors, ``_Refused`` for a bound, or
    ``ValueError`` for a scalar Python cannot convert (an integer of 5,000 digits)."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node, 0, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml_text(text: str, source: str, error: type[ValueError] = ValueError) -> Any:
    """The value of the YAML document ``text`` (``None`` if empty), within the bounds above.

    Any problem raises ``error`` with one line that starts with ``source`` (a file name, or
    ``--set KEY`` for a command-line value): ``bad.yaml:3:7: mapping values are not allowed
    here``.
    """
    try:
        return _load(text)
    except yaml.YAMLError as problem:
        raise error(_one_line(problem, source, text)) from None
    except ValueError as problem:
        raise error(_unconvertible(problem, source)) from None


def parse_override_value(text: str, source: str, error: type[ValueError] = ValueError) -> Any:
    """The value of a command-line ``KEY=VALUE``: YAML (``3``, ``[64, 32]``, ``true``) where
    it parses, else the text itself (``--set name=run: 2`` names a run "run: 2").

    The bounds still hold: a value too large, too deep or with a key twice raises ``error``
    naming ``source``.
    """
    try:
        return _load(text)
    except _Refused as problem:
        raise error(_one_line(problem, source, text)) from None
    except yaml.YAMLError:
        return text
    except ValueError as problem:
        raise error(_unconvertible(problem, source)) from None


def read_yaml_text(path: str | Path, error: type[ValueError] = ValueError) -> str:
    """The text of a YAML file: at most ``MAX_BYTES``, UTF-8, or ``error`` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror or problem}") from None
    if len(data) > MAX_BYTES:
        raise error(
            f"{path}: larger than {MAX_BYTES // (1 << 20)} MiB; a recipe, grid or spec is a "
            "few kilobytes of YAML"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        raise error(
            f"{path}: not UTF-8 text: byte 0x{data[problem.start]:02x} at offset "
            f"{problem.start} (line {line}) is not valid UTF-8; save the file as UTF-8"
        ) from None


def parse_yaml_mapping(
    text: str, source: str, what: str, error: type[ValueError] = ValueError, keys: str = ""
) -> dict[str, Any]:
    """The top-level mapping of the YAML ``text`` read from ``source`` (see
    :func:`read_yaml_mapping`)."""
    raw = load_yaml_text(text, source, error)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        hint = f" ({keys})" if keys else ""
        raise error(f"{source}: {what} is a mapping of keys{hint}, got {type(raw).__name__}")
    return raw


def read_yaml_mapping(
    path: str | Path, what: str, error: type[ValueError] = ValueError, keys: str = ""
) -> dict[str, Any]:
    """The top-level mapping of ``path``; ``what`` names it in errors ("a recipe", "a spec"),
    ``keys`` hints at what the mapping holds ("input, target, layers, ...").

    An unreadable, oversized or non-UTF-8 file, invalid YAML, a document over the bounds or a
    top level that is not a mapping raise ``error`` naming the file. An empty file is an empty
    mapping.
    """
    return parse_yaml_mapping(read_yaml_text(path, error), str(path), what, error, keys)


_ECHO = reprlib.Repr()
_ECHO.maxlevel, _ECHO.maxlist, _ECHO.maxdict, _ECHO.maxtuple, _ECHO.maxset = 3, 8, 8, 8, 8
_ECHO.maxstring = _ECHO.maxother = _ECHO.maxlong = ECHO_LIMIT


def short_repr(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (ending in ``…`` when cut); cheap
    even for a huge value, since only its first items are looked at."""
    text = _ECHO.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
