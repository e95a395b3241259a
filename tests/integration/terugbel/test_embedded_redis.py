"""The embedded Redis: the process that started it for others stops it once they have let go."""

from __future__ import annotations

from pathlib import Path

import redis

from terugbel.redis_conn import connect_redis, release_embedded_redis
from terugbel.settings import load_settings


def test_release_waits_until_no_other_client_is_connected(tmp_path: Path) -> None:
    client = connect_redis(load_settings({"TERUGBEL_DATA_DIR": str(tmp_path)}))
    client.ping()
    server = client._terugbel_embedded_server  # type: ignore[attr-defined]
    other_process = redis.Redis(unix_socket_path=server.socket_file)
    other_process.ping()
    try:
        # A client of a server someone else runs has nothing to release.
        assert release_embedded_redis(other_process, timeout=0) is True
        assert release_embedded_redis(client, timeout=0.2) is False
        other_process.close()
        assert release_embedded_redis(client, timeout=10) is True
    finally:
        other_process.close()
        server.shutdown(nosave=True)

