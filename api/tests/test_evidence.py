"""Signed evidence (inventory.evidence): an in-toto Statement of a real posture report (recorded Docker answers),
signed in a DSSE envelope by securesystemslib with keys made by the real `openssl`, verified, and refused with the
check that failed after each kind of tampering."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordedBackend, make_app
from inventory.evidence.envelope import EvidenceError, load_public_key, load_signer, sign, verify
from inventory.evidence.statement import PAYLOAD_TYPE, PREDICATE_TYPE, ReportDigest, build_statement, image_digest
from inventory.history.chain import Head
from inventory.service import InventoryService
from test_reports import WAIVERS

from tests.support.prereq import unavailable

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def keypair(tmp_path: Path, algorithm: str, *options: str) -> tuple[str, str]:
    """A PEM private key and its public key, made by openssl as a user would (docs/EVIDENCE.md)."""
    if not shutil.which("openssl"):
        unavailable("openssl is not installed")
    key, pub = tmp_path / f"{algorithm}.key", tmp_path / f"{algorithm}.pub"
    opts = [a for o in options for a in ("-pkeyopt", o)]
    subprocess.run(["openssl", "genpkey", "-algorithm", algorithm, *opts, "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    return str(key), str(pub)


@pytest.fixture()
def statement(tmp_path: Path, backend: RecordedBackend) -> dict[str, Any]:
    waivers = tmp_path / "w.yaml"
    waivers.write_text(WAIVERS)
    app = make_app(backend, WAIVER_FILE=str(waivers))
    service: InventoryService = app.extensions["inventory"]
    report = service.posture(include_stopped=True)
    image_ids = {c.id: c.image_id for c in service.containers(include_stopped=True)}
    reports = [ReportDigest(image_digest=next(iter(image_ids.values())), scanner="trivy", sha256="ab" * 32)]
    return build_statement(report, image_ids, service.waivers, AT, reports, Head(42, "c" * 64))


def test_statement_describes_what_ran(statement: dict[str, Any]) -> None:
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    predicate = statement["predicate"]
    containers = predicate["containers"]
    assert containers, "the recorded backend runs containers"
    digests = {c["image_digest"].removeprefix("sha256:") for c in containers if c["image_digest"]}
    assert {s["digest"]["sha256"] for s in statement["subject"]} == digests
    findings = [f for c in containers for f in c["findings"]]
    assert any(f["rule"] == "privileged" and f["waived"] for f in findings), findings
    assert any(not f["waived"] for f in findings)
    assert [w["owner"] for w in predicate["waivers"]] == ["team-db"]
    assert len(predicate["catalog"]["sha256"]) == 64 and predicate["catalog"]["rules"] > 20
    assert predicate["generated_at"] == "2026-12-07T12:00:00+00:00"
    assert predicate["reports"][0]["scanner"] == "trivy"
    assert predicate["history"] == {"head_id": 42, "head_hash": "c" * 64}


@pytest.mark.parametrize(
    ("algorithm", "options"),
    [("ed25519", ()), ("EC", ("ec_paramgen_curve:P-256",)), ("RSA", ("rsa_keygen_bits:2048",))],
)
def test_sign_and_verify_with_openssl_keys(
    tmp_path: Path, statement: dict[str, Any], algorithm: str, options: tuple[str, ...]
) -> None:
    key, pub = keypair(tmp_path, algorithm, *options)
    envelope = json.loads(json.dumps(sign(statement, load_signer(key))))  # through JSON, as it is stored and sent
    assert envelope["payloadType"] == PAYLOAD_TYPE
    before = copy.deepcopy(envelope)
    verified = verify(envelope, [load_public_key(pub)])
    assert envelope == before, "verifying must not consume the caller's envelope"
    assert verified.statement == statement
    assert verified.containers == len(statement["predicate"]["containers"])
    assert len(verified.keyids) == 1


def _resign_payload(envelope: dict[str, Any], edit: Any) -> dict[str, Any]:
    doc = json.loads(base64.b64decode(envelope["payload"]))
    edit(doc)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return dict(envelope, payload=base64.b64encode(raw).decode())


def test_every_kind_of_tampering_is_named(tmp_path: Path, statement: dict[str, Any]) -> None:
    key, pub = keypair(tmp_path, "ed25519")
    envelope = sign(statement, load_signer(key))
    keys = [load_public_key(pub)]

    def unwaive(doc: dict[str, Any]) -> None:
        for c in doc["predicate"]["containers"]:
            for f in c["findings"]:
                f["waived"] = True

    with pytest.raises(EvidenceError, match="no signature verifies"):
        verify(_resign_payload(envelope, unwaive), keys)
    with pytest.raises(EvidenceError, match="no signature verifies"):
        verify(_resign_payload(envelope, lambda d: d["predicate"]["containers"].pop()), keys)
    with pytest.raises(EvidenceError, match="payloadType is 'text/plain'"):
        verify(dict(envelope, payloadType="text/plain"), keys)
    with pytest.raises(EvidenceError, match="carries no signature"):
        verify(dict(envelope, signatures=[]), keys)
    with pytest.raises(EvidenceError, match="payload is missing"):
        verify({k: v for k, v in envelope.items() if k != "payload"}, keys)
    with pytest.raises(EvidenceError, match="expected a JSON object"):
        verify([envelope], keys)
    _, other_pub = keypair(tmp_path / "..", "ed25519")
    with pytest.raises(EvidenceError, match="no signature verifies"):
        verify(envelope, [load_public_key(other_pub)])


def test_a_signed_statement_must_be_ours_and_consistent(tmp_path: Path, statement: dict[str, Any]) -> None:
    key, pub = keypair(tmp_path, "ed25519")
    signer, keys = load_signer(key), [load_public_key(pub)]
    foreign = dict(statement, predicateType="https://slsa.dev/provenance/v1")
    with pytest.raises(EvidenceError, match=r"predicateType is 'https://slsa\.dev/provenance/v1'"):
        verify(sign(foreign, signer), keys)
    with pytest.raises(EvidenceError, match="not an in-toto Statement"):
        verify(sign(dict(statement, _type="https://example.org/other"), signer), keys)
    extra = dict(statement, subject=[*statement["subject"], {"name": "x", "digest": {"sha256": "0" * 64}}])
    with pytest.raises(EvidenceError, match="1 subject\\(s\\) without a container, 0 container"):
        verify(sign(extra, signer), keys)


def test_bad_key_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match=r"evidence key .*missing.key: cannot read it \(No such file"):
        load_signer(str(tmp_path / "missing.key"))
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")  # pragma: allowlist secret
    with pytest.raises(EvidenceError, match="not an unencrypted PEM private key"):
        load_signer(str(junk))
    with pytest.raises(EvidenceError, match="not a PEM public key"):
        load_public_key(str(junk))
    key, _ = keypair(tmp_path, "ed25519")
    with pytest.raises(EvidenceError, match="not a PEM public key"):
        load_public_key(key)  # a private key where the public one belongs


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        ("sha256:" + "a" * 64, "a" * 64),
        ("docker-pullable://registry.example/app@sha256:" + "b" * 64, "b" * 64),
        ("registry.example/app@sha256:" + "c" * 64, "c" * 64),
        ("sha256:" + "d" * 63, None),
        ("", None),
    ],
)
def test_image_digest_of_every_engine_form(image_id: str, expected: str | None) -> None:
    assert image_digest(image_id) == expected
