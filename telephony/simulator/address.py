"""Where a running simulator and the app it plays Twilio for can be reached, kept in a file in the data dir.

`terugbel demo` writes it when everything is up and removes it when it stops, so that
`terugbel simulate` reaches that demo (whatever ports it was given) and never somebody else's app.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

ADDRESS_FILE = "simulator.json"


@dataclass(frozen=True)
class SimulatorAddress:
    app_url: str
    simulator_url: str


def address_path(data_dir: Path) -> Path:
    return data_dir / ADDRESS_FILE


def write_address(data_dir: Path, address: SimulatorAddress) -> Path:
    path = address_path(data_dir)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(asdict(address)), encoding="utf-8")
    staged.replace(path)  # whoever reads it sees the old file or the whole new one
    return path


def read_address(data_dir: Path) -> SimulatorAddress | None:
    """The address the demo left in `data_dir`, or None when no demo wrote one (or it is unreadable)."""
    try:
        data = json.loads(address_path(data_dir).read_text(encoding="utf-8"))
        return SimulatorAddress(app_url=str(data["app_url"]), simulator_url=str(data["simulator_url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_address(data_dir: Path, address: SimulatorAddress) -> None:
    """Remove the file if it still names `address` (a second demo on the same data dir may have replaced it)."""
    if read_address(data_dir) == address:
        with suppress(FileNotFoundError):
            address_path(data_dir).unlink()
