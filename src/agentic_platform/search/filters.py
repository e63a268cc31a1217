"""The one metadata filter grammar, and what it compiles to.

A filter is a condition ``{"field": "year", "op": "gte", "value": 2020}`` or a combination
``{"and": [...]}`` / ``{"or": [...]}``, nested freely (up to :data:`MAX_DEPTH`). Operators:
``eq neq gt gte lt lte contains starts_with in not_in``.

The same meaning holds on every backend, so a search answers the same on a laptop and in
production:

* comparisons are type-aware: ``1`` equals ``1.0`` but never ``true`` or ``"1"``; ``gt`` and
  friends compare numbers with numbers and strings with strings (by code point) and are false
  otherwise;
* ``contains`` is a substring test on a string field and a membership test on a list field;
* a condition on a field a record lacks is false, except ``neq`` and ``not_in``, which are
  true (they are the negations of ``eq`` and ``in``);
* values are strings, booleans, 64-bit integers and finite floats: a number no backend holds
  exactly (``10**400``, ``1e400``) is refused, not rounded.

Compiled forms: a Python predicate (:func:`to_predicate`), SQL over a JSON column for SQLite
(:func:`to_sqlite`) and over JSONB for PostgreSQL (:func:`to_postgres`); the Bedrock shape
lives with the Bedrock backend.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

from agentic_platform.errors import InvalidRequestError

Operator = Literal["eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "in", "not_in"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
"""A float JSON can carry: a number beyond the float range (``1e400``) parses as infinity."""


def check_representable(value: object) -> None:
    """Refuse numbers no backend holds exactly (SQLite INTEGER, JSONB via orjson, numpy):
    integers beyond 64 bits and floats that overflowed to infinity (a list: each item)."""
    if isinstance(value, list):
        for item in value:
            check_representable(item)
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(
            "integers must fit in 64 bits (-9223372036854775808 to 9223372036854775807); "
            "send a larger number as a string"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (a JSON number beyond 1.8e308 is not)")


Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
"""A filter or metadata value; :func:`check_representable` bounds its numbers."""

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")

_ORDERED = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class Condition(BaseModel):
    """One test on one metadata field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="The metadata field to test.", pattern=FIELD_NAME.pattern)
    op: Operator = Field(description="The comparison.")
    value: Scalar | list[Scalar] = Field(description="A value; a list for `in` and `not_in`.")

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        check_representable(self.value)
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"'{self.op}' needs a non-empty list of values")
            if len(self.value) > MAX_LIST_VALUES:
                raise ValueError(f"'{self.op}' takes at most {MAX_LIST_VALUES} values")
            return self
        if isinstance(self.value, list):
            raise ValueError(f"'{self.op}' needs a single value, not a list")
        if self.op in _ORDERED and isinstance(self.value, bool):
            raise ValueError(f"'{self.op}' compares numbers or strings, not booleans")
        if self.op == "starts_with" and not isinstance(self.value, str):
            raise ValueError("'starts_with' needs a string value")
        return self


class AllOf(BaseModel):
    """Every sub-filter holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all_of: list[Filter] = Field(alias="and", min_length=1, max_length=MAX_CONDITIONS)


class AnyOf(BaseModel):
    """At least one sub-filter holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    any_of: list[Filter] = Field(alias="or", min_length=1, max_length=MAX_CONDITIONS)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        if "and" in value:
            return "and"
        if "or" in value:
            return "or"
    return "condition"


Filter = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[AllOf, Tag("and")]
    | Annotated[AnyOf, Tag("or")],
    Discriminator(_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


def conditions(node: Filter) -> Iterator[Condition]:
    """Every condition in the filter, depth first."""
    if isinstance(node, Condition):
        yield node
        return
    for child in node.all_of if isinstance(node, AllOf) else node.any_of:
        yield from conditions(child)


def _depth(node: Filter) -> int:
    if isinstance(node, Condition):
        return 1
    children = node.all_of if isinstance(node, AllOf) else node.any_of
    return 1 + max(_depth(child) for child in children)


def check_filter(node: Filter, allowed_fields: Collection[str]) -> None:
    """Refuse a filter that names a field the collection does not have, or is too big;
    the message says which fields exist."""
    if _depth(node) > MAX_DEPTH:
        raise InvalidRequestError(
            f"The filter nests deeper than {MAX_DEPTH} levels.", param="filter", code="bad_filter"
        )
    found = list(conditions(node))
    if len(found) > MAX_CONDITIONS:
        raise InvalidRequestError(
            f"The filter has more than {MAX_CONDITIONS} conditions.",
            param="filter",
            code="bad_filter",
        )
    for condition in found:
        if condition.field not in allowed_fields:
            known = ", ".join(sorted(allowed_fields)) or "none"
            raise InvalidRequestError(
                f"The filter names the unknown field '{condition.field}'. Known fields: {known}.",
                param="filter",
                code="unknown_filter_field",
            )


# --- Python ------------------------------------------------------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]
_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (JSON's view, not Python's)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and isinstance(a, str) and a == b


def _ordered(actual: Any, op: str, value: Any) -> bool:
    numbers = (int, float)
    both_numbers = (
        isinstance(actual, numbers)
        and not isinstance(actual, bool)
        and isinstance(value, numbers)
        and not isinstance(value, bool)
    )
    if not both_numbers and not (isinstance(actual, str) and isinstance(value, str)):
        return False
    if op == "gt":
        return bool(actual > value)
    if op == "gte":
        return bool(actual >= value)
    if op == "lt":
        return bool(actual < value)
    return bool(actual <= value)


def _test(actual: Any, op: str, value: Any) -> bool:
    if actual is _MISSING:
        return op in ("neq", "not_in")
    if op == "eq":
        return _same(actual, value)
    if op == "neq":
        return not _same(actual, value)
    if op in _ORDERED:
        return _ordered(actual, op, value)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(value, str) and value in actual
        return isinstance(actual, list) and any(_same(item, value) for item in actual)
    if op == "starts_with":
        return isinstance(actual, str) and actual.startswith(value)
    found = any(_same(actual, option) for option in value)
    return found if op == "in" else not found


def to_predicate(node: Filter) -> Predicate:
    """A function of a record's metadata that says whether the filter holds."""
    if isinstance(node, Condition):
        field, op, value = node.field, node.op, node.value
        return lambda metadata: _test(metadata.get(field, _MISSING), op, value)
    if isinstance(node, AllOf):
        parts = [to_predicate(child) for child in node.all_of]
        return lambda metadata: all(part(metadata) for part in parts)
    options = [to_predicate(child) for child in node.any_of]
    return lambda metadata: any(option(metadata) for option in options)


# --- SQL ---------------------------------------------------------------------------------


class SqlFilter:
    """Builds one SQL boolean expression with its parameters, for one dialect."""

    def __init__(self, column: str, dialect: Literal["sqlite", "postgresql"], first: int = 1):
        self.column = column
        self.dialect = dialect
        self.params: list[Any] = []
        self._next = first

    def param(self, value: Any) -> str:
        self.params.append(value)
        number = self._next
        self._next += 1
        return f":f{number}" if self.dialect == "sqlite" else f"${number}"

    def compile(self, node: Filter) -> str:
        if isinstance(node, Condition):
            return self._condition(node)
        joiner = " AND " if isinstance(node, AllOf) else " OR "
        children = node.all_of if isinstance(node, AllOf) else node.any_of
        return "(" + joiner.join(self.compile(child) for child in children) + ")"

    def _condition(self, node: Condition) -> str:
        compile_one = _sqlite_test if self.dialect == "sqlite" else _postgres_test
        if node.op in ("neq", "not_in"):
            positive = "eq" if node.op == "neq" else "in"
            return f"(NOT {compile_one(self, node.field, positive, node.value)})"
        return compile_one(self, node.field, node.op, node.value)


def _sqlite_test(sql: SqlFilter, field: str, op: str, value: Any) -> str:
    """Each expression is 0 or 1, never NULL, so NOT negates it cleanly."""
    path = f'$."{field}"'
    kind = f"COALESCE(json_type({sql.column}, {sql.param(path)}), '')"
    if op == "in":
        return "(" + " OR ".join(_sqlite_test(sql, field, "eq", item) for item in value) + ")"
    if op == "eq":
        return _sqlite_equals(sql, kind, f"json_extract({sql.column}, {sql.param(path)})", value)
    if op in _ORDERED:
        allowed = "('integer', 'real')" if not isinstance(value, str) else "('text')"
        extracted = f"json_extract({sql.column}, {sql.param(path)})"
        return f"({kind} IN {allowed} AND {extracted} {_ORDERED[op]} {sql.param(value)})"
    if op == "starts_with":
        extracted = f"json_extract({sql.column}, {sql.param(path)})"
        prefix_length = sql.param(len(value))
        return f"({kind} = 'text' AND substr({extracted}, 1, {prefix_length}) = {sql.param(value)})"
    # contains: a substring of a string field, or an element of a list field
    element = _sqlite_equals(sql, "each.type", "each.value", value)
    in_list = (
        f"EXISTS (SELECT 1 FROM json_each({sql.column}, {sql.param(path)}) AS each "  # noqa: S608
        f"WHERE {element})"
    )
    if not isinstance(value, str):
        return f"({kind} = 'array' AND {in_list})"
    extracted = f"json_extract({sql.column}, {sql.param(path)})"
    substring = f"instr({extracted}, {sql.param(value)}) > 0"
    return f"(({kind} = 'text' AND {substring}) OR ({kind} = 'array' AND {in_list}))"


def _sqlite_equals(sql: SqlFilter, kind: str, extracted: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"({kind} = {sql.param('true' if value else 'false')})"
    if isinstance(value, str):
        return f"({kind} = 'text' AND {extracted} IS {sql.param(value)})"
    return f"({kind} IN ('integer', 'real') AND {extracted} IS {sql.param(value)})"


def _postgres_test(sql: SqlFilter, field: str, op: str, value: Any) -> str:
    """JSONB comparisons are type-aware already; ``COALESCE`` keeps every result non-NULL."""
    import orjson

    key = sql.param(field)
    item = f"({sql.column} -> {key})"
    kind = f"COALESCE(jsonb_typeof({item}), '')"
    if op == "eq":
        return (
            f"({item} IS NOT DISTINCT FROM {sql.param(orjson.dumps(value).decode())}::text::jsonb)"
        )
    if op == "in":
        options = sql.param(orjson.dumps(value).decode())
        return (
            f"COALESCE({item} = ANY (SELECT jsonb_array_elements({options}::text::jsonb)), false)"
        )
    if op in _ORDERED:
        if isinstance(value, str):
            text = f'({sql.column} ->> {key}) COLLATE "C"'
            return f"({kind} = 'string' AND {text} {_ORDERED[op]} {sql.param(value)})"
        number = sql.param(orjson.dumps(value).decode())
        return f"({kind} = 'number' AND {item} {_ORDERED[op]} {number}::text::jsonb)"
    if op == "starts_with":
        return f"({kind} = 'string' AND starts_with({sql.column} ->> {key}, {sql.param(value)}))"
    element = sql.param(orjson.dumps([value]).decode())
    in_list = f"({kind} = 'array' AND {item} @> {element}::text::jsonb)"
    if not isinstance(value, str):
        return in_list
    substring = f"strpos({sql.column} ->> {key}, {sql.param(value)}) > 0"
    return f"(({kind} = 'string' AND {substring}) OR {in_list})"


def to_sqlite(node: Filter, column: str = "metadata") -> tuple[str, dict[str, Any]]:
    """SQL for SQLite's JSON functions over a JSON text column, with named parameters
    (``:f1``, ``:f2``...) as both ``sqlite3`` and SQLAlchemy's ``text()`` take them."""
    sql = SqlFilter(column, "sqlite")
    expression = sql.compile(node)
    return expression, {f"f{number}": value for number, value in enumerate(sql.params, 1)}


def to_postgres(node: Filter, column: str = "metadata", first: int = 1) -> tuple[str, list[Any]]:
    """SQL for a PostgreSQL JSONB column, with ``$n`` parameters numbered from ``first``."""
    sql = SqlFilter(column, "postgresql", first)
    return sql.compile(node), sql.params
