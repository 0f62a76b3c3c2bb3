"""The one run-filter grammar: parsed here, whichever front-end the filter came from.

A filter is clauses joined by ``and``; a clause is ``KEY OP VALUE``::

    metrics.accuracy > 0.8 and params.C = '1' and status = 'FINISHED' and name ILIKE '%arrests%'

- ``KEY``: ``metrics.NAME``, ``params.NAME``, ``tags.NAME`` (a name with spaces or other
  characters in backticks: ``metrics.`f1 score```), or an attribute of the run: ``status``,
  ``name``, ``run_id``, ``start_time``, ``end_time`` (also written ``attributes.status`` ...),
  ``actor`` and ``notebook`` (who ran it and the notebook it ran in).
- ``OP``: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` for numbers (metrics, times in ms);
  ``=``, ``!=``, ``LIKE``, ``ILIKE`` (``%`` matches anything) for text; ``run_id IN ('a', 'b')``.
- ``VALUE``: a number, or text in single or double quotes (it cannot contain its own quote).

:func:`parse_filter` turns the text into a :class:`RunFilter` or raises one
:class:`~jupyter_mlops.errors.InvalidInput` that names the bad token and shows a correct filter;
:meth:`RunFilter.to_mlflow` writes the tracking store's filter string, quoting every key and value
itself, so nothing a user types reaches the store unparsed. :func:`parse_order` does the same for a
sort key (``metrics.accuracy DESC``). The experiments dashboard, ``GET /runs`` and
``jupyter-mlops runs list --filter`` all call these.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from ..errors import InvalidInput

__all__ = ["EXAMPLE", "STATUSES", "Clause", "RunFilter", "order_key", "parse_filter", "parse_order", "run_filter"]

#: A correct filter, shown in every error message.
EXAMPLE = "metrics.accuracy > 0.8"
#: Run statuses a filter may name.
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")
_MAX_LEN = 2000
_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
#: Attribute shorthands -> (kind, key in the store, value type).
_ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "status": ("attributes", "status", "status"),
    "name": ("attributes", "run_name", "text"),
    "run_name": ("attributes", "run_name", "text"),
    "run_id": ("attributes", "run_id", "text"),
    "start_time": ("attributes", "start_time", "number"),
    "end_time": ("attributes", "end_time", "number"),
    "actor": ("tags", "mlops.actor", "text"),
    "notebook": ("tags", "mlops.notebook", "text"),
}
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "IN")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'[^']*'|"[^"]*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z_`])
      | (?P<key>(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)(?:\.(?:[A-Za-z0-9_\-/]+|`[^`]+`))*)
      | (?P<op>[<>=!]+)
      | (?P<punct>[(),])
      | (?P<other>\S+?(?=\s|$|[(),'"]) | \S)
    )""",
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class Clause:
    """One ``KEY OP VALUE`` of a filter, with the key as the store names it."""

    kind: str
    key: str
    op: str
    value: str | float | tuple[str, ...]

    def to_mlflow(self) -> str:
        """This clause in the tracking store's grammar (key in backticks, value quoted)."""
        key = f"attributes.{self.key}" if self.kind == "attributes" else f"{self.kind}.`{self.key}`"
        if isinstance(self.value, tuple):
            return f"{key} IN ({', '.join(_quote(v) for v in self.value)})"
        if isinstance(self.value, str):
            value = _quote(self.value)
        elif self.kind == "attributes" or self.value.is_integer():
            value = str(int(self.value))  # times are whole milliseconds
        else:
            value = repr(self.value)
        return f"{key} {self.op} {value}"


@dataclasses.dataclass(frozen=True)
class RunFilter:
    """A parsed run filter: clauses that must all hold."""

    clauses: tuple[Clause, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def __and__(self, other: RunFilter) -> RunFilter:
        return RunFilter(self.clauses + other.clauses)

    def to_mlflow(self) -> str:
        """The filter string for the tracking store's ``search_runs``."""
        return " and ".join(c.to_mlflow() for c in self.clauses)

    @property
    def narrows(self) -> bool:
        """Whether it selects by more than status (so a count of the experiment's runs does not apply)."""
        return any(not (c.kind == "attributes" and c.key == "status") for c in self.clauses)


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise InvalidInput(
        f"a filter value cannot hold both kinds of quote: {value!r}", value=value[:80], field="filter", hint=f"e.g. {EXAMPLE}"
    )


def _bad(message: str, token: str, text: str, example: str = EXAMPLE) -> InvalidInput:
    return InvalidInput(f"{message} in filter {text!r}; write e.g. {example}", value=token[:80], field="filter")


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the last alternative matches any non-space
            raise _bad(f"unknown token {text[pos:].split(maxsplit=1)[0]!r}", text[pos:], text)
        kind = m.lastgroup or "other"
        token = m.group(kind)
        if kind == "op" and token not in _NUMBER_OPS:
            raise _bad(f"unknown token {token!r}", token, text)
        if kind == "other":
            raise _bad(f"unknown token {token!r}", token, text)
        if kind == "key" and token.upper() in ("AND", "LIKE", "ILIKE", "IN", "OR", "NOT"):
            kind = "word"
        out.append((kind, token))
        pos = m.end()
    return out


def _key(token: str, text: str) -> tuple[str, str, str]:
    """``(kind, key, value type)`` of a key token."""
    parts = re.findall(r"`[^`]+`|[^.`]+", token)
    head = parts[0].strip("`").lower()
    if len(parts) == 1:
        if head in _ATTRIBUTES:
            return _ATTRIBUTES[head]
        name = parts[0].strip("`")
        raise _bad(f"unknown key {name!r} (a metric, param or tag name needs its prefix)", name, text, f"metrics.{name} > 0.8")
    kind = _PREFIXES.get(head)
    rest = ".".join(p.strip("`") for p in parts[1:])
    if kind is None:
        raise _bad(f"unknown key {token!r} (keys start with metrics., params., tags. or attributes.)", token, text)
    if kind == "attributes":
        found = _ATTRIBUTES.get(rest.lower())
        if found is None or found[0] != "attributes":
            known = ", ".join(k for k, v in _ATTRIBUTES.items() if v[0] == "attributes")
            raise _bad(f"unknown attribute {rest!r} (one of {known})", rest, text)
        return found
    return kind, rest, "number" if kind == "metrics" else "text"


def parse_filter(text: str | None) -> RunFilter:
    """Parse a run filter (see the module docstring); an empty text is the filter that keeps every run.

    Raises
    ------
    InvalidInput
        Naming the first bad token (``unknown token '>>' in filter 'accuracy >> 0.8'; write e.g.
        metrics.accuracy > 0.8``), with ``field="filter"``.
    """
    text = (text or "").strip()
    if not text:
        return RunFilter()
    if len(text) > _MAX_LEN or "\x00" in text:
        raise InvalidInput(f"a filter is at most {_MAX_LEN} characters of text", field="filter", hint=f"e.g. {EXAMPLE}")
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def take(what: str) -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise _bad(f"the filter ends where {what} should be", text[-20:], text)
        i += 1
        return tokens[i - 1]

    while True:
        kind, token = take("a key")
        if kind != "key":
            raise _bad(f"expected a key such as metrics.accuracy, found {token!r}", token, text)
        store_kind, key, vtype = _key(token, text)
        op_kind, op = take("an operator")
        op = op.upper()
        if op_kind not in ("op", "word") or op not in (*_NUMBER_OPS, *_TEXT_OPS):
            raise _bad(f"expected an operator after {token}, found {op!r}", op, text)
        allowed: tuple[str, ...] = _NUMBER_OPS if vtype == "number" else ("=", "!=") if vtype == "status" else _TEXT_OPS
        if key != "run_id" or store_kind != "attributes":
            allowed = tuple(o for o in allowed if o != "IN")
        if op not in allowed:
            raise _bad(f"{token} cannot be compared with {op} (use {', '.join(allowed)})", op, text)
        value: str | float | tuple[str, ...]
        if op == "IN":
            if take("'('")[1] != "(":
                raise _bad(f"IN needs a list in parentheses after {token}", token, text)
            items: list[str] = []
            while True:
                vkind, vtoken = take("a quoted value")
                if vkind != "string":
                    raise _bad(f"IN lists quoted values, found {vtoken!r}", vtoken, text)
                items.append(vtoken[1:-1])
                sep = take("',' or ')'")[1]
                if sep == ")":
                    break
                if sep != ",":
                    raise _bad(f"expected ',' or ')' in the IN list, found {sep!r}", sep, text)
            value = tuple(items)
        else:
            vkind, vtoken = take("a value")
            if vtype == "number":
                if vkind != "number":
                    raise _bad(f"{token} is compared with a number, not {vtoken}", vtoken, text)
                value = float(vtoken)
            else:
                if vkind != "string":
                    example = f"{token} {op} '{vtoken.strip(chr(39) + chr(34))}'"
                    raise _bad(f"{token} is compared with text in quotes, not {vtoken}", vtoken, text, example)
                value = vtoken[1:-1]
                if vtype == "status":
                    value = value.upper()
                    if value not in STATUSES:
                        known = ", ".join(STATUSES)
                        raise _bad(f"unknown run status {vtoken} (one of {known})", vtoken, text, "status = 'FINISHED'")
        clauses.append(Clause(store_kind, key, op, value))
        if i == len(tokens):
            return RunFilter(tuple(clauses))
        kind, token = take("'and'")
        if token.upper() != "AND":
            raise _bad(f"clauses are joined with 'and', found {token!r}", token, text)


def run_filter(
    query: str | None = None,
    *,
    status: str | None = None,
    name_contains: str | None = None,
    actor: str | None = None,
    notebook: str | None = None,
) -> RunFilter:
    """The filter of a front-end's boxes: a free-text ``query`` and the separate fields beside it.

    ``status`` ``"any"`` (or empty) keeps every status; ``name_contains`` matches the run name in
    any case. Every value goes through :func:`parse_filter`'s checks.
    """
    extra: list[Clause] = []
    fields: tuple[tuple[str, str | None, Callable[[str], Clause]], ...] = (
        ("name", name_contains, lambda v: Clause("attributes", "run_name", "ILIKE", f"%{v}%")),
        ("actor", actor, lambda v: Clause("tags", "mlops.actor", "=", v)),
        ("notebook", notebook, lambda v: Clause("tags", "mlops.notebook", "=", v)),
    )
    if status and status.lower() != "any":
        if status.upper() not in STATUSES:
            raise InvalidInput(
                f"unknown run status {status!r}", value=status[:40], field="status", hint="one of " + ", ".join(STATUSES)
            )
        extra.append(Clause("attributes", "status", "=", status.upper()))
    for field, text, clause in fields:
        value = (text or "").strip()
        if not value:
            continue
        if "'" in value or '"' in value or "\\" in value or "`" in value or any(ord(ch) < 32 for ch in value):
            raise InvalidInput(
                f"{field} may not contain quotes, backslashes or control characters", value=value[:80], field=field
            )
        extra.append(clause(value))
    return RunFilter(tuple(extra)) & parse_filter(query)


_ORDER_TAIL = re.compile(r"^(?P<key>.+?)(?:\s+(?P<dir>asc|desc))?$", re.IGNORECASE)


def parse_order(text: str | None, *, default: str = "start_time DESC") -> list[str]:
    """The store's ``order_by`` for ``KEY [ASC|DESC]`` (keys as in filters); ties go newest first.

    Raises
    ------
    InvalidInput
        For an unknown key, with ``field="sort"``.
    """
    text = (text or "").strip() or default
    m = _ORDER_TAIL.match(text)
    if m is None or len(text) > 300:
        raise InvalidInput(f"unknown sort {text[:80]!r}", field="sort", hint="e.g. metrics.accuracy DESC or start_time ASC")
    direction = (m.group("dir") or "ASC").upper()
    try:
        kind, key, _ = _key(m.group("key").strip(), text)
    except InvalidInput as err:
        raise InvalidInput(
            f"unknown sort key {m.group('key')!r}", value=m.group("key")[:80], field="sort", hint=err.message
        ) from None
    if "`" in key:
        raise InvalidInput(f"cannot sort by {key!r}", value=key, field="sort", hint="keys with a backtick cannot be queried")
    head = f"attributes.{key}" if kind == "attributes" else f"{kind}.`{key}`"
    out = [f"{head} {direction}"]
    if head != "attributes.start_time":
        out.append("attributes.start_time DESC")
    return out


def order_key(kind: str, key: str) -> str:
    """The sort key a front-end shows for a metric, parameter or attribute column (``metrics.`acc```)."""
    if kind == "attributes":
        return f"attributes.{key}"
    if "`" in key:
        raise InvalidInput(f"cannot sort by {key!r}", value=key, field="sort", hint="keys with a backtick cannot be queried")
    return f"{kind}.`{key}`"
