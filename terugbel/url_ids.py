"""The `<int:…>` of every route: only what an id column can hold, so any other number is a 404."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map, ValidationError

from terugbel.validation import ID_MAX, ID_MIN


class DatabaseIdConverter(IntegerConverter):
    """A whole number in [ID_MIN, ID_MAX]; the URL of any other one names nothing."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int = ID_MIN, max: int = ID_MAX) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=False)

    def to_python(self, value: str) -> int:
        try:
            return int(super().to_python(value))
        except ValidationError:
            # Not werkzeug's "try the next rule": that ends in a 405 whose `Allow` names the methods
            # of the same path's other rules, which would refuse this id as well.
            raise NotFound() from None
