"""Developer tools, not shipped behaviour: `python -m terugbel.devtools regenerate-migration`.

Until the first release the schema has one initial revision; this rewrites it from the models by
autogenerating against an empty SQLite database, so the models stay the one place for the schema.
"""

from __future__ import annotations

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
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/empty.sqlite3")
        config = alembic_config(engine)
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message="initial schema", autogenerate=True, rev_id="0001_initial")
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
