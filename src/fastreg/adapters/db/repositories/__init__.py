"""The repositories of ``services/ports``, on SQLAlchemy: each is made by the unit of work for its transaction
and speaks the domain's entities; SQL, bind names, prepared statements and counters stay in this package."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def columns_of(entity: Any) -> dict[str, Any]:
    """An entity's attributes as the parameters of its table's prepared insert (``statements.INSERT_*``)."""
    return {f.name: getattr(entity, f.name) for f in fields(entity) if f.init}
