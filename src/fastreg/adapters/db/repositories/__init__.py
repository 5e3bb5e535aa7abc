"""The repositories of ``services/ports``, on SQLAlchemy: each is made by the unit of work for its transaction
and speaks the domain's entities; SQL, bind names, prepared statements and counters stay in this package."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

_init_fields: dict[type, tuple[str, ...]] = {}  # by entity (or values) class, found once


def columns_of(entity: object) -> dict[str, Any]:
    """An entity's (or its values') attributes as the parameters of its table's prepared insert
    (``statements.INSERT_*``)."""
    names = _init_fields.get(type(entity))
    if names is None:
        names = _init_fields[type(entity)] = tuple(f.name for f in fields(entity) if f.init)  # type: ignore[arg-type]
    return {name: getattr(entity, name) for name in names}
