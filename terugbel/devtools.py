"""Developer tools, not shipped behaviour: `python -m terugbel.devtools regenerate-migration`.

Until the first release the schema has one initial revision; this rewrites it from the models by
autogenerating against an empty SQLite database, so the models stay the one place for the schema.
What models cannot describe (a PostgreSQL function) lives in the revisions after it, which are set
aside while the initial one is generated and kept as they are.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from terugbel.migrate import MIGRATIONS_DIR, alembic_config

INITIAL = MIGRATIONS_DIR / "versions" / "0001_initial.py"


def regenerate_initial_migration() -> Path:
    INITIAL.unlink(missing_ok=True)
    later = sorted((MIGRATIONS_DIR / "versions").glob("0*.py"))
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as aside:
        for revision in later:
            shutil.move(revision, Path(aside) / revision.name)
        try:
            engine = create_engine(f"sqlite:///{tmp}/empty.sqlite3")
            config = alembic_config(engine)
            with engine.connect() as connection:
                config.attributes["connection"] = connection
                command.revision(config, message="initial schema", autogenerate=True, rev_id="0001_initial")
        finally:
            for revision in later:
                shutil.move(Path(aside) / revision.name, revision)
    generated = next((MIGRATIONS_DIR / "versions").glob("0001_initial*.py"))
    if generated != INITIAL:
        generated.rename(INITIAL)
    for ruff_args in (["format"], ["check", "--fix", "--quiet"]):
        subprocess.run([sys.executable, "-m", "ruff", *ruff_args, str(INITIAL)], check=False)
    return INITIAL


if __name__ == "__main__":
    if sys.argv[1:] != ["regenerate-migration"]:
        sys.exit("usage: python -m terugbel.devtools regenerate-migration")
    print(regenerate_initial_migration())
