"""Reading spec data files safely: YAML and JSON with stated limits.

A spec is refused, with one clear line, when it is

- larger than :data:`MAX_SPEC_BYTES`, or nested deeper than :data:`MAX_DEPTH`;
- using a mapping key that is not a scalar, or a key twice (YAML and JSON alike);
- holding an integer of more than :data:`MAX_INT_DIGITS` digits, a non-finite
  number (``.inf``, ``.nan``, ``NaN``, ``Infinity``) or a malformed one (``!!float abc``).

YAML is parsed with libyaml when PyYAML has it (fast at thousands of
services). libyaml composes nested nodes recursively, so a text whose
pre-scan could nest deeper than the limit is composed by PyYAML's Python
composer instead, which counts depth as it goes and stops at the limit.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Largest spec file read (a 3,000-service spec is about 1 MiB).
MAX_SPEC_BYTES = 8 * 2**20
#: Deepest nesting of mappings and lists (a stack spec needs fewer than 10).
MAX_DEPTH = 64
#: Longest integer literal (nothing in a spec needs more than a few digits).
MAX_INT_DIGITS = 30
#: Most values a YAML document may expand to once its aliases are followed ("billion laughs").
MAX_NODES = 200_000


class DataError(ValueError):
    """A data file that cannot be read; ``line`` / ``column`` are 1-based when known."""

    def __init__(self, problem: str, fix: str, line: int | None = None, column: int | None = None):
        super().__init__(problem)
        self.problem, self.fix, self.line, self.column = problem, fix, line, column


def check_size(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SPEC_BYTES:
        raise DataError(
            f"file is {size:,} bytes, over the {MAX_SPEC_BYTES:,}-byte limit of a spec",
            "split the stack, or move large values (code, data) out of the spec",
        )


def _too_deep(line: int | None = None, column: int | None = None) -> DataError:
    return DataError(f"nested deeper than {MAX_DEPTH} levels", "a stack spec never needs this much nesting", line, column)


def _number(text: str, line: int | None, column: int | None) -> None:
    digits = len(text.lstrip("+-").replace("_", ""))
    if digits > MAX_INT_DIGITS:
        raise DataError(f"a {digits}-digit number", f"numbers in a spec have at most {MAX_INT_DIGITS} digits", line, column)


# --------------------------------------------------------------------------- #
# JSON
# --------------------------------------------------------------------------- #


def _json_depth(text: str) -> tuple[int, int]:
    """(deepest nesting, its character offset), ignoring brackets inside strings."""
    depth = best = where = 0
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best, where = depth, i
                if best > MAX_DEPTH:
                    break
        elif ch in "]}":
            depth -= 1
    return best, where


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def load_json(text: str) -> Any:
    check_size(text)
    depth, where = _json_depth(text)
    if depth > MAX_DEPTH:
        raise _too_deep(*_line_col(text, where))

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise DataError(f"duplicate key {key!r}", "give each key once")
            out[key] = value
        return out

    def parse_int(s: str) -> int:
        _number(s, None, None)
        return int(s)

    def parse_constant(s: str) -> Any:
        raise DataError(f"{s} is not a finite number", "write a finite number")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=parse_int, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", "fix the syntax", exc.lineno, exc.colno) from None


# --------------------------------------------------------------------------- #
# YAML
# --------------------------------------------------------------------------- #

_FLOW_OPEN = re.compile(r"[\[{]")


def _yaml_may_be_deep(text: str) -> bool:
    """A cheap upper bound of the nesting: flow brackets plus block indentation and `- ` markers."""
    flow = sum(1 for _ in _FLOW_OPEN.finditer(text))
    if flow > MAX_DEPTH:
        return True
    for line in text.splitlines():
        stripped = line.lstrip(" -")
        if len(line) - len(stripped) > MAX_DEPTH:
            return True
    return False


def _loader_classes() -> tuple[type, type]:
    import yaml

    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                m = key_node.start_mark
                raise DataError("a mapping key is a list or a mapping", "use a plain scalar (a name) as key", m.line + 1, m.column + 1)
            key = loader.construct_object(key_node, deep=deep)
            if key in out:
                m = key_node.start_mark
                raise DataError(f"duplicate key {key!r}", "give each key once", m.line + 1, m.column + 1)
            out[key] = loader.construct_object(value_node, deep=deep)
        return out

    def construct_int(loader: Any, node: Any) -> int:
        m = node.start_mark
        _number(str(node.value), m.line + 1, m.column + 1)
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)

    def construct_float(loader: Any, node: Any) -> float:
        m = node.start_mark
        _number(str(node.value).split(".")[0].split("e")[0].split("E")[0], m.line + 1, m.column + 1)
        try:
            value = yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)
        except ValueError:
            raise DataError(f"{node.value!r} is not a number", "write a number", m.line + 1, m.column + 1) from None
        if not math.isfinite(value):
            raise DataError(f"{node.value} is not a finite number", "write a finite number", m.line + 1, m.column + 1)
        return value

    class Guarded:
        """Constructors every spec reader uses, on either parser."""

    classes = []
    for base in (fast, yaml.SafeLoader):

        class Strict(base):  # type: ignore[valid-type,misc]
            pass

        Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        Strict.add_constructor("tag:yaml.org,2002:int", construct_int)
        Strict.add_constructor("tag:yaml.org,2002:float", construct_float)
        classes.append(Strict)

    class Counting(classes[1]):  # type: ignore[valid-type,misc]
        """The Python composer with a depth limit (used only when the pre-scan says it may be needed)."""

        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    m = self.peek_event().start_mark
                    raise _too_deep(m.line + 1, m.column + 1)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return classes[0], Counting


_LOADERS: tuple[type, type] | None = None


def load_yaml(text: str) -> Any:
    import yaml

    global _LOADERS
    check_size(text)
    if _LOADERS is None:
        _LOADERS = _loader_classes()
    fast, counting = _LOADERS
    loader_cls = counting if _yaml_may_be_deep(text) else fast
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except DataError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise DataError(
            f"invalid YAML: {problem}", "fix the syntax", mark.line + 1 if mark else None, mark.column + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise DataError(f"invalid YAML: {' '.join(str(exc).split())}", "fix the syntax") from None
    except RecursionError:
        raise _too_deep() from None
    finally:
        loader.dispose()


def _check_expansion(root: Any) -> None:
    """Refuse a document whose aliases would expand it past MAX_NODES values (counted without expanding)."""
    import yaml

    sizes: dict[int, int] = {}
    open_: set[int] = set()  # collections entered but not finished: meeting one again is a cycle
    # Post-order over the node graph; an alias is the same node object, so its size is computed once.
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if not done and id(node) in open_:
            m = node.start_mark
            raise DataError(
                "an alias refers to the collection that contains it (the value would be infinite)",
                "write the value out instead of the alias",
                m.line + 1,
                m.column + 1,
            )
        if done:
            open_.discard(id(node))
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[id(node)] = total
            if total > MAX_NODES:
                m = node.start_mark
                raise DataError(
                    f"the document expands to more than {MAX_NODES:,} values once its aliases are followed",
                    "write the values out instead of nesting aliases",
                    m.line + 1,
                    m.column + 1,
                )
            continue
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
