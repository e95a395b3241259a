"""Compile the gettext catalogues whenever the package is built: a wheel and an editable install alike.

Everything else about the package is in pyproject.toml. The app reads only the compiled .mo files
(terugbel/i18n.py), which are not committed; `make messages` compiles them during development.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE_DIR = Path(__file__).resolve().parent / "terugbel" / "locale"


class BuildPyWithCatalogues(build_py):
    """Write each .po's .mo next to it before the package data is collected.

    In the source tree, so an editable install (which links the tree instead of copying it) finds
    them too; a wheel then carries them as package data.
    """

    def run(self) -> None:
        for po_file in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
            with po_file.open("rb") as source:
                catalogue = read_po(source)
            with po_file.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalogue)
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogues})
