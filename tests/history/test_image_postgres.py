"""The flask-api image itself (flattened, trimmed runtime) reaches PostgreSQL: psycopg loads Debian's libpq
through ctypes, SQLAlchemy's PostgreSQL dialect and the Alembic migrations run, on a read-only root filesystem
as user 10001 with every capability dropped."""

from __future__ import annotations

import uuid

import docker

from tests.support import postgres
from tests.support.stack import image_tag


def test_flask_api_image_migrates_postgresql_through_libpq(
    engine_client: docker.DockerClient, pg: postgres.PostgresCluster
) -> None:
    name = f"i{uuid.uuid4().hex[:10]}"
    url = pg.create_database(name)
    out = engine_client.containers.run(
        f"flask-api:{image_tag()}",
        ["python3", "-m", "inventory.history", "upgrade"],
        environment={"DATABASE_URL": url},
        network_mode="host",  # the throwaway cluster listens on 127.0.0.1 only
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        remove=True,
    ).decode()
    assert "revision" in out and "(head" in out, out
    head = out.rsplit("(head ", 1)[1].rstrip(")\n ")
    assert pg.psql("SELECT version_num FROM alembic_version", db=name) == head
    assert pg.psql("SELECT count(*) FROM history_change", db=name) == "0"
