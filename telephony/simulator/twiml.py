"""Parse TwiML strictly, against the verbs, nouns and attributes of the installed twilio library.

Twilio answers malformed XML with error 12100 and an element or attribute it does not know with
12200; both end the call with the application-error message. The schema here is read from
`twilio.twiml.voice_response`: each builder method names the element it nests and its attributes.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache

from twilio.twiml import TwiML, lower_camel, voice_response

DOCUMENT_PARSE_FAILURE = 12100
SCHEMA_VALIDATION = 12200
INVALID_CONTENT_TYPE = 12300


class TwimlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Element:
    """One parsed TwiML element: name, attributes, text and children."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"

    def number(self, name: str, default: float) -> float:
        value = self.attrs.get(name)
        try:
            return float(value) if value not in (None, "") else default
        except ValueError:
            return default

    @property
    def spoken_text(self) -> str:
        """The words of a Say, including those inside SSML children."""
        parts = [self.text] + [child.spoken_text + " " + child.tail for child in self.children]
        joined = re.sub(r"\s+", " ", " ".join(parts)).strip()
        return re.sub(r"\s+([,.!?;:])", r"\1", joined)

    tail: str = ""


@dataclass(frozen=True)
class ElementSchema:
    attributes: frozenset[str]
    children: dict[str, str]  # child element name -> its class name


@lru_cache(maxsize=1)
def voice_schema() -> dict[str, ElementSchema]:
    """Element name -> allowed attributes and children, read from twilio.twiml.voice_response."""
    classes = {name: cls for name, cls in vars(voice_response).items()
               if isinstance(cls, type) and issubclass(cls, TwiML) and cls is not TwiML}
    names = {class_name: _element_name(cls) for class_name, cls in classes.items()}
    attributes: dict[str, set[str]] = {names[c]: set() for c in classes}
    children: dict[str, dict[str, str]] = {names[c]: {} for c in classes}
    for class_name, cls in classes.items():
        parent = names[class_name]
        for method_name, method in vars(cls).items():
            if method_name.startswith("_") or not callable(method):
                continue
            nested = _nested_call(method)
            if nested is None or nested[0] not in classes:
                continue
            child_class, positional = nested
            child = names[child_class]
            children[parent][child] = child_class
            content = set(inspect.signature(classes[child_class]).parameters) - {"kwargs"}
            for param in list(inspect.signature(method).parameters.values())[1:]:
                if param.kind is inspect.Parameter.VAR_KEYWORD or param.name in positional or param.name in content:
                    continue
                attributes[child].add(lower_camel(TwiML.MAP.get(param.name, param.name)))
    return {name: ElementSchema(frozenset(attributes[name]), children[name]) for name in attributes}


def _element_name(cls: type) -> str:
    match = re.search(r'self\.name\s*=\s*"([^"]+)"', inspect.getsource(vars(cls)["__init__"]))
    return match.group(1) if match else cls.__name__


def _nested_call(method: object) -> tuple[str, set[str]] | None:
    """For `return self.nest(Child(content, attr=attr, ...))`: the child class and its content params."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))  # type: ignore[arg-type]
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "nest"
                and node.args and isinstance(node.args[0], ast.Call)
                and isinstance(node.args[0].func, ast.Name)):
            inner = node.args[0]
            positional = {arg.id for arg in inner.args if isinstance(arg, ast.Name)}
            return node.args[0].func.id, positional
    return None


# Attributes every element may carry in XML without being a TwiML attribute.
_XML_ATTRIBUTES = frozenset({"{http://www.w3.org/XML/1998/namespace}lang"})


def parse_voice_twiml(document: str | bytes) -> Element:
    """Parse a voice TwiML document; raise TwimlError(12100) or TwimlError(12200)."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(DOCUMENT_PARSE_FAILURE, f"Document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(SCHEMA_VALIDATION, f"Root element must be <Response>, not <{root.tag}>")
    return _convert(root, voice_schema())


def _convert(node: ET.Element, schema: dict[str, ElementSchema]) -> Element:
    rules = schema[node.tag]
    for attr in node.attrib:
        if attr not in rules.attributes and attr not in _XML_ATTRIBUTES:
            raise TwimlError(SCHEMA_VALIDATION, f"Attribute '{attr}' is not allowed on <{node.tag}>")
    element = Element(name=node.tag, attrs=dict(node.attrib), text=(node.text or "").strip(),
                      tail=(node.tail or "").strip())
    for child in node:
        if child.tag not in rules.children:
            raise TwimlError(SCHEMA_VALIDATION, f"Element <{child.tag}> is not allowed inside <{node.tag}>")
        element.children.append(_convert(child, schema))
    return element
