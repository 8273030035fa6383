"""Sign a Statement in a DSSE envelope and verify one (securesystemslib does the envelope and the cryptography).

Keys are PEM files: a PKCS#8 private key to sign (Ed25519, ECDSA or RSA, e.g. from ``openssl genpkey``, a file or a
mounted Secret) and its public key to verify. ``verify`` says which check failed, in one line: not an envelope,
wrong payload type, no signature, a signature the key does not verify, not an in-toto Statement of our predicate,
or subjects that disagree with the containers listed.
"""

from __future__ import annotations

import binascii
import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, VerificationError
from securesystemslib.signer import CryptoSigner, Key, SSlibKey

from .statement import PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, canonical, image_digest


class EvidenceError(ValueError):
    """Evidence cannot be signed or does not verify; the message names the check (one line)."""


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(f"{what} {path}: cannot read it ({exc.strerror})") from None


def load_signer(path: str) -> CryptoSigner:
    """The signer for the unencrypted PEM private key in ``path``."""
    try:
        key = load_pem_private_key(_read(path, "evidence key"), password=None)
        return CryptoSigner(key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = f"evidence key {path}: not an unencrypted PEM private key we can sign with ({exc})"
        raise EvidenceError(msg) from None


def load_public_key(path: str) -> Key:
    """The verification key in the PEM public key file ``path``."""
    try:
        return SSlibKey.from_crypto(load_pem_public_key(_read(path, "public key")))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EvidenceError(f"public key {path}: not a PEM public key ({exc})") from None


def sign(statement: Mapping[str, Any], signer: CryptoSigner) -> dict[str, Any]:
    """The DSSE envelope (JSON-ready) of ``statement`` signed by ``signer``."""
    envelope = Envelope(payload=canonical(statement), payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    doc: dict[str, Any] = envelope.to_dict()
    return doc


@dataclass(frozen=True)
class Verified:
    statement: dict[str, Any]
    keyids: tuple[str, ...]
    payload_sha256: str

    @property
    def containers(self) -> int:
        return len(self.statement["predicate"]["containers"])


def _envelope(doc: Any) -> Envelope:
    if not isinstance(doc, Mapping):
        raise EvidenceError("not a DSSE envelope: expected a JSON object")
    try:
        return Envelope.from_dict(copy.deepcopy(dict(doc)))  # from_dict pops the signatures' fields
    except KeyError as exc:
        raise EvidenceError(f"not a DSSE envelope: {exc.args[0]} is missing") from None
    except (FormatError, binascii.Error, TypeError, ValueError, AttributeError) as exc:
        raise EvidenceError(f"not a DSSE envelope: {exc}") from None


def _check_statement(statement: Any) -> None:
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise EvidenceError(f"payload is not an in-toto Statement ({STATEMENT_TYPE})")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise EvidenceError(f"predicateType is {statement.get('predicateType')!r}, expected {PREDICATE_TYPE}")
    try:
        listed = {image_digest(c["image_digest"] or "") for c in statement["predicate"]["containers"]} - {None}
        subjects = {s["digest"]["sha256"] for s in statement["subject"]}
    except (KeyError, TypeError) as exc:
        raise EvidenceError(f"statement is missing {exc}") from None
    if listed != subjects:
        raise EvidenceError(
            f"subjects disagree with the containers: {len(subjects - listed)} subject(s) without a container, "
            f"{len(listed - subjects)} container image(s) without a subject"
        )


def verify(doc: Any, keys: Sequence[Key]) -> Verified:
    """Check ``doc`` (a parsed envelope) against ``keys`` (one valid signature suffices) and return its Statement."""
    envelope = _envelope(doc)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise EvidenceError(f"payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE}")
    if not envelope.signatures:
        raise EvidenceError("the envelope carries no signature")
    try:
        verified = envelope.verify(list(keys), 1)
    except VerificationError:
        msg = "no signature verifies with the given public key: the evidence was altered or signed by another key"
        raise EvidenceError(msg) from None
    try:
        statement = json.loads(envelope.payload)
    except ValueError:
        raise EvidenceError("payload is not JSON") from None
    _check_statement(statement)
    return Verified(statement, tuple(sorted(verified)), hashlib.sha256(envelope.payload).hexdigest())
