"""The translator's workflow: `python -m terugbel.catalogues [extract|update|compile|all]` (`make messages`).

extract  re-reads the code with `pybabel extract` (babel.cfg) into terugbel/locale/<domain>.pot;
update   extracts, then merges each template into every language's .po (`pybabel update`), new
         sentences empty, sentences no longer in the code dropped; in the English console
         catalogue a new sentence starts as itself (the English sentence is its message id);
compile  writes the .mo files the app reads (`pybabel compile`); installing the package does
         the same (setup.py), so only a developer who edits a .po needs it;
all      update, then compile (the default).

tests/unit/test_catalogues.py fails when a .pot is behind the code, naming `make messages`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import chdir
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from terugbel.i18n import CALLER_DOMAIN, CONSOLE_DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parents[1]
MAPPING = ROOT / "babel.cfg"
# Where each domain's sentences are written in the code.
SOURCES = {
    CALLER_DOMAIN: ("terugbel", "ivr", "routing", "callbacks", "webhooks"),
    CONSOLE_DOMAIN: ("console",),
}
# The language whose console catalogue repeats the message id: the console is written in English.
SOURCE_LANGUAGE = "en"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "--quiet", *args])


def template_path(domain: str, directory: Path = LOCALE_DIR) -> Path:
    return directory / f"{domain}.pot"


def po_path(domain: str, lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def extract(directory: Path = LOCALE_DIR) -> dict[str, Path]:
    """Write each domain's .pot, read afresh from the code, into `directory`."""
    written = {}
    for domain, sources in SOURCES.items():
        output = template_path(domain, directory).resolve()
        # From the root, so the .pot names files relative to it.
        with chdir(ROOT):
            pybabel(
                "extract", "--mapping-file", str(MAPPING), "--output-file", str(output),
                "--sort-output", "--add-location", "file", "--no-wrap", "--omit-header", *sources,
            )  # fmt: skip
        written[domain] = output
    return written


def update() -> None:
    for domain, template in extract().items():
        for lang in LANGUAGES:
            pybabel(
                "update", "--input-file", str(template), "--output-file", str(po_path(domain, lang)),
                "--locale", lang, "--no-fuzzy-matching", "--ignore-obsolete", "--no-wrap", "--ignore-pot-creation-date",
            )  # fmt: skip
    _english_console_repeats_its_ids()


def compile_catalogues() -> None:
    for domain in SOURCES:
        pybabel("compile", "--directory", str(LOCALE_DIR), "--domain", domain)


def _english_console_repeats_its_ids() -> None:
    path = po_path(CONSOLE_DOMAIN, SOURCE_LANGUAGE)
    with path.open("rb") as source:
        catalogue = read_po(source, locale=SOURCE_LANGUAGE)
    for message in catalogue:
        if message.id and not message.string:
            message.string = message.id
    with path.open("wb") as target:
        write_po(target, catalogue, width=0)


def main(argv: list[str]) -> int:
    steps: dict[str, list[Callable[[], object]]] = {
        "extract": [extract],
        "update": [update],
        "compile": [compile_catalogues],
    }
    steps["all"] = [update, compile_catalogues]
    chosen = argv[0] if argv else "all"
    if chosen not in steps or len(argv) > 1:
        print(f"usage: python -m terugbel.catalogues [{'|'.join(steps)}]", file=sys.stderr)
        return 2
    for step in steps[chosen]:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
