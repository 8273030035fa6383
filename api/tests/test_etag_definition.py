"""The ETag is what conditional.py says it is: ``etag_of`` the encoded answer without the caller's own address
(JSON: the body up to the echoed ``client_ip``; SARIF/JUnit: the whole body)."""

from __future__ import annotations

from conftest import RecordedBackend, make_app
from inventory.conditional import etag_of


def test_json_etag_hashes_the_body_without_the_client_address(backend: RecordedBackend) -> None:
    client = make_app(backend).test_client()
    for url in ("/api/containers?all=true", "/api/posture"):
        resp = client.get(url, environ_base={"REMOTE_ADDR": "127.0.0.9"})
        head, sep, tail = resp.get_data().rpartition(b',"client_ip":')
        assert sep and tail == b'"127.0.0.9"}\n', url
        assert resp.headers["ETag"] == f'W/"{etag_of(head + b"}")}"', url


def test_report_etag_hashes_the_whole_body(backend: RecordedBackend) -> None:
    client = make_app(backend).test_client()
    for fmt in ("sarif", "junit"):
        resp = client.get(f"/api/posture?format={fmt}")
        assert resp.status_code == 200 and resp.headers["ETag"] == f'W/"{etag_of(resp.get_data())}"', fmt
