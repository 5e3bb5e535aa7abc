"""The fakes' database: lists of entities by class, with ids given on add and a transaction's snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any, TypeVar

E = TypeVar("E")

_STATE = "_sa_instance_state"  # set on entities when SQLAlchemy's mapping is loaded in the same process


def entity_of(kind: type[E], values: object) -> E:
    """The entity of ``kind`` made of a values dataclass (``entities.MiniProgramValues`` and the like), as the
    database gives one back after writing the values (``values`` itself when it is one already)."""
    if isinstance(values, kind):
        return values
    return kind(**{f.name: getattr(values, f.name) for f in fields(values)})  # type: ignore[arg-type]


class FakeStore:
    def __init__(self) -> None:
        self._rows: dict[type[Any], list[Any]] = {}
        self._next_id: dict[type[Any], int] = {}

    def add(self, entity: E) -> E:
        kind = type(entity)
        if any(f.name == "id" for f in fields(kind)) and getattr(entity, "id", None) is None:  # type: ignore[arg-type]
            self._next_id[kind] = self._next_id.get(kind, 0) + 1
            entity.id = self._next_id[kind]  # type: ignore[attr-defined]
        self._rows.setdefault(kind, []).append(entity)
        return entity

    def remove(self, entity: object) -> None:
        self._rows[type(entity)].remove(entity)

    def all(self, kind: type[E]) -> list[E]:
        return list(self._rows.get(kind, []))

    def where(self, kind: type[E], test: Callable[[E], bool]) -> Iterator[E]:
        return (row for row in self._rows.get(kind, []) if test(row))

    def first(self, kind: type[E], test: Callable[[E], bool]) -> E | None:
        return next(self.where(kind, test), None)

    def snapshot(self) -> Callable[[], None]:
        """A function that puts every list and every entity's attributes back as they are now (rollback)."""
        rows = {kind: list(entities) for kind, entities in self._rows.items()}
        values = [
            (entity, {k: v for k, v in vars(entity).items() if k != _STATE})
            for entities in self._rows.values()
            for entity in entities
        ]
        next_id = dict(self._next_id)

        def restore() -> None:
            self._rows, self._next_id = {kind: list(entities) for kind, entities in rows.items()}, dict(next_id)
            for entity, saved in values:
                for name, value in saved.items():
                    setattr(entity, name, value)

        return restore
