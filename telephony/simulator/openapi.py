"""Check form requests against Twilio's published OpenAPI description (vendored in twilio_api/).

Form semantics as the twilio client sends them: one field per value for arrays (explode).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from telephony.simulator.errors import (
    INVALID_METHOD,
    INVALID_PARAMETER,
    UNKNOWN_PARAMETER,
    URL_REQUIRED,
    ApiError,
)

SPEC_FILENAME = "twilio_api_v2010.json"


def default_spec_path() -> Path:
    """Twilio's description as shipped with the simulator (twilio_api/, with its licence)."""
    return Path(__file__).resolve().parent / "twilio_api" / SPEC_FILENAME


@lru_cache(maxsize=4)
def load_spec(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


class SpecValidator:
    """Validate a form body for one (path template, method) against the spec's request schema."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    @classmethod
    def from_file(cls, path: Path | None = None) -> SpecValidator:
        """The validator of the description at `path` (by default the vendored one)."""
        return cls(load_spec(path or default_spec_path()))

    def request_schema(self, path: str, method: str) -> dict[str, Any]:
        operation = self.spec["paths"][path][method.lower()]
        schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        return self._resolve(schema)

    def conditional(self, path: str, method: str) -> list[list[str]]:
        """The 'one of these' groups (x-twilio.conditional), as form field names."""
        operation = self.spec["paths"][path][method.lower()]
        groups = (operation.get("x-twilio") or {}).get("conditional") or []
        return [[_camel(name) for name in group] for group in groups]

    def validate(self, path: str, method: str, form: dict[str, list[str]]) -> None:
        """Raise ApiError for the first parameter Twilio's description does not allow."""
        schema = self.request_schema(path, method)
        properties: dict[str, Any] = schema.get("properties", {})
        for name in form:
            if name not in properties:
                raise ApiError(400, UNKNOWN_PARAMETER, f"Unknown parameter: {name}")
        for name in schema.get("required", []):
            if not form.get(name):
                raise ApiError(400, INVALID_PARAMETER, f"Missing required parameter {name}")
        for group in self.conditional(path, method):
            if not any(form.get(name) for name in group):
                raise ApiError(400, INVALID_PARAMETER, f"One of {', '.join(group)} is required")
        for name, values in form.items():
            prop = self._resolve(properties[name])
            if prop.get("type") != "array" and len(values) > 1:
                raise ApiError(400, INVALID_PARAMETER, f"Parameter {name} given more than once")
            item = self._resolve(prop["items"]) if prop.get("type") == "array" else prop
            for value in values:
                self._check_value(name, item, value)

    def _check_value(self, name: str, prop: dict[str, Any], value: str) -> None:
        kind = prop.get("type", "string")
        if kind == "integer" and not re.fullmatch(r"-?\d+", value):
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: {value!r} is not an integer")
        if kind == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: {value!r} is not a number")
        if kind == "boolean" and value.lower() not in {"true", "false"}:
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: {value!r} is not true or false")
        if prop.get("format") == "http-method" and value not in prop.get("enum", ["GET", "POST"]):
            raise ApiError(400, INVALID_METHOD, f"Invalid {name}: {value!r} is not GET or POST")
        if "enum" in prop and value not in prop["enum"]:
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: {value!r} is not one of {prop['enum']}")
        if "pattern" in prop and not re.search(prop["pattern"], value):
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: {value!r}")
        if len(value) < prop.get("minLength", 0) or len(value) > prop.get("maxLength", 10**9):
            raise ApiError(400, INVALID_PARAMETER, f"Invalid {name}: wrong length")
        ignore_format = (prop.get("x-twilio") or {}).get("ignoreFormat")
        if prop.get("format") == "uri" and not ignore_format and not re.match(r"https?://[^/\s]+", value):
            raise ApiError(400, URL_REQUIRED, f"{name} is not a valid URL: {value}")

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node


def _camel(snake: str) -> str:
    return "".join(part.title() if part != "sid" else "Sid" for part in snake.split("_"))
