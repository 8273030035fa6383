"""Property-based API testing through Nginx: every documented operation, 0 server errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.stack import Stack


def test_schemathesis_through_nginx(stack: Stack, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{stack.url}/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples",
        "400",
        # No example database: a fresh clone (CI) and a developer's tree run the same cases.
        "--generation-database",
        "none",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "4",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--seed",
        "20261125",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    cases = re.search(r"(\d+) generated", output)
    total = int(cases.group(1)) if cases else 0
    print(f"schemathesis: {total} test cases, 0 failures")
    assert total >= 500, f"only {total} test cases generated:\n{output[-3000:]}"
