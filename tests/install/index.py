"""A package index on 127.0.0.1 that replays "today" against a lock made weeks ago.

It serves (PEP 503 simple pages) every file the wheelhouse holds, which are exactly the locked releases that
`make venv` fetched, and next to each project a newer release the lock has never seen (version 9999.0, a valid
pure-Python wheel with the same extras). An installer that resolves anything instead of installing the pinned
files picks the newer release and fails its hash check; one that installs the lock as written never sees it.
"""

from __future__ import annotations

import hashlib
import html
import http.server
import re
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NEWER = "9999.0"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str:
    """The project name of a wheel (name-version-...whl) or sdist (name-version.tar.gz)."""
    return normalize(filename.split("-")[0])


def fake_wheel(directory: Path, project: str, extras: list[str]) -> Path:
    """A minimal, valid py3-none-any wheel of ``project`` at version NEWER, declaring ``extras``."""
    dist = re.sub(r"[-.]+", "_", project)
    info = f"{dist}-{NEWER}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {project}", f"Version: {NEWER}"]
    metadata += [f"Provides-Extra: {extra}" for extra in extras]
    files = {
        f"{info}/METADATA": "\n".join(metadata) + "\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: replay-index\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    path = directory / f"{dist}-{NEWER}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


def build(root: Path, wheelhouse: Path, extras: dict[str, list[str]]) -> Path:
    """Lay out ``root/files`` and ``root/simple``; ``extras`` maps a project to the extras its fake declares."""
    files = root / "files"
    files.mkdir(parents=True)
    by_project: dict[str, list[Path]] = {}
    for src in sorted(wheelhouse.iterdir()):
        if src.is_file():
            dest = files / src.name
            dest.symlink_to(src.resolve())
            by_project.setdefault(project_of(src.name), []).append(dest)
    for project in list(by_project):
        by_project[project].append(fake_wheel(files, project, extras.get(project, [])))
    for project, paths in by_project.items():
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        links = [
            f'<a href="../../files/{html.escape(p.name)}#sha256={hashlib.sha256(p.read_bytes()).hexdigest()}">'
            f"{html.escape(p.name)}</a><br>"
            for p in paths
        ]
        page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    return root / "simple"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1; yields the base URL."""

    def handler(*args: object, **kwargs: object) -> _Quiet:
        return _Quiet(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
