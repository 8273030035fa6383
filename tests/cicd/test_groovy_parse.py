"""(1) The seed script, every Jenkinsfile and the seed-job DSL inside casc.yaml parse with real Groovy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from cicd_helpers import JENKINS, JENKINSFILES, SEED, groovy_env

PARSE = 'args.each { f -> new GroovyShell().parse(new File(f)); println "parsed " + f }'


def parse(groovy: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [groovy, "-e", PARSE, *map(str, files)], capture_output=True, text=True, env=groovy_env(), timeout=120
    )


def test_all_pipelines_exist() -> None:
    names = {p.name for p in JENKINSFILES}
    assert names == {f"{n}.Jenkinsfile" for n in ("build", "mirror", "runner-job", "deploy")}


def test_seed_and_jenkinsfiles_parse(groovy: str) -> None:
    proc = parse(groovy, [SEED, *JENKINSFILES])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("parsed ") == 1 + len(JENKINSFILES)


def test_casc_seed_job_script_parses(groovy: str, tmp_path: Path) -> None:
    casc = yaml.safe_load((JENKINS / "casc.yaml").read_text())
    scripts = [j["script"] for j in casc["jobs"]]
    assert scripts and "jenkins/seed/seed.groovy" in scripts[0]
    files = []
    for n, text in enumerate(scripts):
        f = tmp_path / f"casc-job-{n}.groovy"
        f.write_text(text)
        files.append(f)
    proc = parse(groovy, files)
    assert proc.returncode == 0, proc.stderr


def test_parser_rejects_broken_groovy(groovy: str, tmp_path: Path) -> None:
    """The parse check can fail: an unbalanced pipeline block is a compile error."""
    broken = tmp_path / "broken.Jenkinsfile"
    broken.write_text(JENKINSFILES[0].read_text().rstrip().removesuffix("}"))
    proc = parse(groovy, [broken])
    assert proc.returncode != 0
    assert "MultipleCompilationErrorsException" in proc.stderr
