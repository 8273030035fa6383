"""A throwaway test PKI made with the real openssl CLI: a CA, a server certificate, client certificates.

    pki = TestPKI(tmp_path)
    server = pki.issue("server", server=True, sans=("DNS:localhost", "IP:127.0.0.1"))
    client = pki.issue("api")
    rogue = TestPKI(tmp_path / "rogue").issue("api")   # a valid-looking cert from another CA

Keys are EC P-256 (fast to generate); certificates live one day. Files are readable by every uid
so containers running as non-root users can mount them (test material only, never real keys).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    ca: Path  # the CA that signed it


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


class TestPKI:
    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, name: str = "inventory-test-ca") -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = self.dir / "ca.pem"
        self.ca_key = self.dir / "ca-key.pem"
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.ca_key)
        _openssl(
            "req", "-x509", "-new", "-key", self.ca_key, "-sha256", "-days", "1", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", self.ca,
        )  # fmt: skip
        self._chmod(self.ca, self.ca_key)

    @staticmethod
    def _chmod(*paths: Path) -> None:
        for p in paths:
            os.chmod(p, 0o644)
        os.chmod(paths[0].parent, 0o755)

    def issue(self, name: str, server: bool = False, sans: tuple[str, ...] = ()) -> Issued:
        key, csr, cert = self.dir / f"{name}-key.pem", self.dir / f"{name}.csr", self.dir / f"{name}.pem"
        ext = self.dir / f"{name}.ext"
        usage = "serverAuth" if server else "clientAuth"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", f"extendedKeyUsage={usage}"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        _openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
        _openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
            "-days", "1", "-sha256", "-extfile", ext, "-out", cert,
        )  # fmt: skip
        self._chmod(cert, key)
        return Issued(cert=cert, key=key, ca=self.ca)
