#!/usr/bin/env python3
"""Security gates behind `make scan`: config scanners, image scanners and a CycloneDX SBOM per image.

    scan.py config [--dockerfile F]... [--k8s PATH]... [--compose F]...
    scan.py images IMAGE...
    scan.py waivers            (validate scan/waivers.yaml and print what it accepts)

Every check fails on findings above its threshold. scan/waivers.yaml is the only way to accept a finding.
A scanner that cannot run is never a silent pass: the run fails with a loud banner, except for exactly two
offline gaps (no Trivy vulnerability DB, no Dockle binary) which SCAN_OFFLINE_OK=1 accepts, still loudly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Run as `python scan/scan.py`: its own directory is on sys.path, so the sibling modules import directly.
from compose_check import check_compose
from waivers import WaiverError, Waivers, load_waivers

ROOT = Path(__file__).resolve().parent.parent
REPORTS = Path(os.environ.get("REPORTS_DIR", ROOT / "reports"))
TRIVY = os.environ.get("TRIVY", str(ROOT / ".venv-scan/bin/trivy"))
CHECKOV = os.environ.get("CHECKOV", str(ROOT / ".venv-scan/bin/checkov"))
HADOLINT = os.environ.get("HADOLINT", shutil.which("hadolint") or "hadolint")
DOCKLE = os.environ.get("DOCKLE", shutil.which("dockle") or "")
HELM = os.environ.get("HELM", shutil.which("helm") or "")
HELM_NAMESPACE = os.environ.get("SCAN_HELM_NAMESPACE", "container-inventory")
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
SEVERITIES = "HIGH,CRITICAL"
# Trivy must not phone home (version notices, telemetry, Maven lookups): the scans are offline and reproducible.
os.environ.setdefault("TRIVY_SKIP_VERSION_CHECK", "true")
os.environ.setdefault("TRIVY_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TRIVY_OFFLINE_SCAN", "true")
# The two gaps SCAN_OFFLINE_OK=1 may accept. Anything else that cannot run is an error.
OFFLINE_GAPS = ("trivy-vuln-db", "dockle")


@dataclass
class Outcome:
    """Result of one check: ok, findings (failed gate) or unavailable (could not run)."""

    name: str
    status: str  # ok | findings | unavailable | error
    detail: str = ""
    gap: str = ""  # which OFFLINE_GAPS entry an `unavailable` outcome is


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        mark = {"ok": "PASS", "findings": "FAIL", "unavailable": "NOT RUN", "error": "ERROR"}[outcome.status]
        print(f"==> [{mark}] {outcome.name}" + (f": {outcome.detail}" if outcome.detail else ""), flush=True)

    def exit_code(self) -> int:
        offline_ok = os.environ.get("SCAN_OFFLINE_OK") == "1"
        failed = False
        print("\n==> scan summary")
        for o in self.outcomes:
            line = f"    {o.status.upper():<12} {o.name}"
            if o.status == "unavailable":
                accepted = offline_ok and o.gap in OFFLINE_GAPS
                line += "  (accepted: SCAN_OFFLINE_OK=1)" if accepted else "  (NOT accepted)"
                failed |= not accepted
            elif o.status != "ok":
                failed = True
            print(line)
        if any(o.status == "unavailable" for o in self.outcomes):
            banner(
                "SOME SCANNERS DID NOT RUN: this build is NOT fully scanned. "
                + (
                    "SCAN_OFFLINE_OK=1 accepts the offline gaps listed above."
                    if offline_ok
                    else "Install them (see jenkins/README.md) or set SCAN_OFFLINE_OK=1 to accept the offline gaps."
                )
            )
        return 1 if failed else 0


def banner(message: str) -> None:
    line = "!" * 100
    print(f"\n{line}\n!!! {message}\n{line}\n", file=sys.stderr, flush=True)


def run(cmd: list[str], *, capture: bool = True, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run a scanner; its own output goes to our log unless we need to parse it."""
    print("    $ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, check=False)


def require(tool: str, name: str) -> bool:
    if Path(tool).is_file() or shutil.which(tool):
        return True
    banner(f"{name} is not installed ({tool}): run `make scan-venv` / `make venv`")
    return False


# ---------------------------------------------------------------------------------------------------------- config
def scan_hadolint(report: Report, dockerfiles: list[str], waivers: Waivers) -> None:
    if not dockerfiles:
        return
    if not require(HADOLINT, "hadolint"):
        report.add(Outcome("hadolint", "error", "hadolint missing"))
        return
    cmd = [HADOLINT, "--config", str(ROOT / ".hadolint.yaml"), "--failure-threshold", "warning"]
    for rule in waivers.ids("hadolint"):
        cmd += ["--ignore", rule]
    proc = run([*cmd, *dockerfiles])
    if proc.returncode == 0:
        report.add(Outcome("hadolint", "ok", f"{len(dockerfiles)} Dockerfile(s)"))
    else:
        print(proc.stdout + proc.stderr)
        report.add(Outcome("hadolint", "findings", proc.stdout.strip().splitlines()[0] if proc.stdout else ""))


def trivy_ignorefile(waivers: Waivers) -> Path:
    """Write the waivers for Trivy as its YAML ignore file (ids + statement = our reason)."""
    out = REPORTS / "scan" / "trivyignore.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "misconfigurations": [
            {"id": w.id, "statement": w.reason, **({"paths": list(w.paths)} if w.paths else {})}
            for w in waivers.of("trivy")
        ],
        "vulnerabilities": [{"id": w.id, "statement": w.reason} for w in waivers.of("trivy-vuln")],
        "secrets": [{"id": w.id, "statement": w.reason} for w in waivers.of("trivy-secret")],
    }
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def trivy_failures(stdout: str) -> list[str]:
    """Findings in trivy's JSON report; [] when trivy printed no parsable report (a tool error)."""
    try:
        doc = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return []
    found = []
    for result in doc.get("Results") or []:
        for kind in ("Misconfigurations", "Vulnerabilities", "Secrets"):
            for item in result.get(kind) or []:
                ident = item.get("ID") or item.get("VulnerabilityID") or item.get("RuleID")
                title = item.get("Title", "")
                found.append(f"{result.get('Target')}: {ident} ({item.get('Severity')}) {title}".strip())
    return found


def scan_trivy_config(report: Report, targets: list[str], waivers: Waivers) -> None:
    if not require(TRIVY, "trivy"):
        report.add(Outcome("trivy config", "error", "trivy missing"))
        return
    ignore = trivy_ignorefile(waivers)
    for target in targets:
        # --skip-check-update: use the checks bundled in the trivy binary (works offline, reproducible).
        proc = run(
            [
                *(TRIVY, "config", "--quiet", "--skip-check-update", "--severity", SEVERITIES, "--exit-code", "1"),
                *("--ignorefile", str(ignore), "--format", "json", target),
            ]
        )
        name = f"trivy config {target}"
        if proc.returncode == 0:
            report.add(Outcome(name, "ok"))
            continue
        found = trivy_failures(proc.stdout)
        if not found:
            print(proc.stderr)
            report.add(Outcome(name, "error", (proc.stderr.strip().splitlines() or ["trivy failed"])[-1]))
            continue
        for f in found:
            print(f"      {f}")
        report.add(Outcome(name, "findings", f"{len(found)} HIGH/CRITICAL misconfiguration(s)"))


def scan_checkov(report: Report, files: list[str], frameworks: list[str], waivers: Waivers) -> None:
    if not files:
        return
    if not require(CHECKOV, "checkov"):
        report.add(Outcome("checkov", "error", "checkov missing"))
        return
    cmd = [CHECKOV, "--quiet", "--compact", "--output", "json", "--skip-download", "--framework", *frameworks]
    skips = waivers.ids("checkov")
    if skips:
        cmd += ["--skip-check", ",".join(skips)]
    for f in files:
        cmd += ["-d", f] if Path(f).is_dir() else ["-f", f]
    proc = run(cmd)
    try:
        doc = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        print(proc.stdout[-2000:] + proc.stderr[-2000:])
        report.add(Outcome("checkov", "error", "unparseable checkov output"))
        return
    results = doc if isinstance(doc, list) else [doc]
    failed = []
    for r in results:
        for c in (r.get("results") or {}).get("failed_checks") or []:
            where = str(c.get("file_path") or "")
            if waivers.accepts("checkov", c["check_id"], where):
                print(f"      waived: {c['check_id']} {where}")
                continue
            failed.append(f"{c['check_id']} {c.get('resource')} ({where}): {c.get('check_name')}")
    if not failed and proc.returncode in (0, 1) and results:
        report.add(Outcome("checkov " + "+".join(frameworks), "ok", f"{len(files)} file(s)"))
        return
    for f in failed:
        print(f"      {f}")
    status = "findings" if failed else "error"
    report.add(Outcome("checkov " + "+".join(frameworks), status, f"{len(failed)} failed check(s)"))


def scan_compose(report: Report, files: list[str], waivers: Waivers) -> None:
    for f in files:
        findings = [
            x
            for x in check_compose(Path(f))
            if not (waivers.accepts("compose", x.key, f) or waivers.accepts("compose", x.rule, f))
        ]
        for x in findings:
            print(f"      {x.key}: {x.message}")
        status = "findings" if findings else "ok"
        report.add(Outcome(f"compose policy {f}", status, f"{len(findings)} finding(s)" if findings else ""))


def render_chart(chart: Path) -> list[str]:
    """`helm template` the chart once per values file (values.yaml + every values-*.yaml overlay)."""
    out_dir = REPORTS / "scan" / "rendered"
    out_dir.mkdir(parents=True, exist_ok=True)
    variants: dict[str, list[str]] = {"default": []}
    for overlay in sorted(chart.glob("values-*.yaml")):
        variants[overlay.stem.removeprefix("values-")] = ["-f", str(overlay)]
    rendered = []
    for variant, flags in variants.items():
        overlay = yaml.safe_load(Path(flags[1]).read_text()) if flags else {}
        if (overlay or {}).get("requireImageDigests"):
            # prod renders only with the digests `make push` records (deploy.sh passes reports/images.json); the
            # scanners get that file's shape with a placeholder digest: a digest changes nothing they check.
            flags = [*flags, "--set-file", f"pushedImages={placeholder_pushed_images(chart, out_dir)}"]
        # Same release name and namespace as deploy/scripts/deploy.sh, so the scanners see what gets applied.
        proc = run([HELM, "template", "inventory", str(chart), "--namespace", HELM_NAMESPACE, *flags])
        if proc.returncode != 0:
            raise RuntimeError(f"helm template {chart} ({variant}) failed: {proc.stderr.strip()[-300:]}")
        target = out_dir / f"{chart.name}-{variant}.yaml"
        target.write_text(strip_inline_suppressions(proc.stdout, f"{chart.name} ({variant})"))
        rendered.append(str(target))
    return rendered


def placeholder_pushed_images(chart: Path, out_dir: Path) -> Path:
    """reports/images.json as `make push` writes it, for every image the chart runs, with a placeholder digest."""
    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    registry = values.get("imageRegistry", "")
    placeholder = "sha256:" + "0" * 64
    doc = {
        name: {"repository": f"{registry}/{name}", "tag": entry.get("tag") or "placeholder", "digest": placeholder}
        for name, entry in (values.get("images") or {}).items()
    }
    target = out_dir / f"{chart.name}-pushed-images.json"
    target.write_text(json.dumps(doc))
    return target


def strip_inline_suppressions(manifests: str, what: str) -> str:
    """Drop `checkov.io/skip*` annotations: scan/waivers.yaml is the only place a finding may be accepted."""
    docs = [d for d in yaml.safe_load_all(manifests) if d]
    stripped = 0
    for doc in docs:
        for meta in (doc.get("metadata") or {}, ((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}):
            notes = meta.get("annotations") or {}
            for key in [k for k in notes if k.startswith("checkov.io/skip")]:
                del notes[key]
                stripped += 1
    if stripped:
        print(f"==> [NOTE] {what}: ignored {stripped} inline checkov.io/skip annotation(s); scan/waivers.yaml rules")
    return yaml.safe_dump_all(docs, sort_keys=False)


def cmd_config(args: argparse.Namespace, waivers: Waivers) -> int:
    report = Report()
    scan_hadolint(report, args.dockerfile, waivers)
    k8s_files = [p for p in args.k8s if not (Path(p).is_dir() and (Path(p) / "Chart.yaml").exists())]
    charts = [Path(p) for p in args.k8s if p not in k8s_files]
    if charts and not HELM:
        # trivy renders charts itself (default values); checkov needs helm for that, so it skips them: say so.
        print("==> [NOTE] no helm binary: charts scanned by trivy's own renderer only (not by checkov)")
        k8s_files += [str(c) for c in charts]
    for chart in charts if HELM else []:
        try:
            k8s_files += render_chart(chart)
        except RuntimeError as exc:
            report.add(Outcome(f"helm template {chart}", "error", str(exc)))
    scan_trivy_config(report, args.dockerfile + k8s_files, waivers)
    scan_checkov(report, args.dockerfile, ["dockerfile"], waivers)
    scan_checkov(report, [f for f in k8s_files if not Path(f).is_dir()], ["kubernetes"], waivers)
    scan_compose(report, args.compose, waivers)
    return report.exit_code()


# ---------------------------------------------------------------------------------------------------------- images
def trivy_cache() -> Path:
    return Path(os.environ.get("TRIVY_CACHE_DIR", Path.home() / ".cache" / "trivy"))


def trivy_db_present() -> bool:
    return (trivy_cache() / "db" / "trivy.db").is_file() and (trivy_cache() / "db" / "metadata.json").is_file()


def java_db_flags() -> list[str]:
    """Without the Java DB trivy cannot post-process JAR files at all; analyse everything else and say so."""
    if (trivy_cache() / "java-db" / "trivy-java.db").is_file() or os.environ.get("SCAN_DB_DOWNLOAD") == "1":
        return []
    print("==> [NOTE] no Trivy Java DB: JAR files skipped (JARs shipped by Debian packages still appear as dpkg)")
    return ["--skip-files", "**/*.jar"]


def scan_vulns(report: Report, image: str, ignore: Path) -> None:
    name = f"trivy image vulnerabilities {image}"
    if not trivy_db_present() and os.environ.get("SCAN_DB_DOWNLOAD") != "1":
        banner(
            f"VULNERABILITY SCAN OF {image} DID NOT RUN: no Trivy vulnerability DB in the cache and "
            "SCAN_DB_DOWNLOAD!=1 (this network cannot fetch it). The image is NOT vulnerability-scanned."
        )
        report.add(Outcome(name, "unavailable", "no Trivy vulnerability DB", gap="trivy-vuln-db"))
        return
    cmd = [TRIVY, "image", "--quiet", "--scanners", "vuln", "--severity", SEVERITIES, "--ignore-unfixed"]
    cmd += ["--exit-code", "1", "--ignorefile", str(ignore), "--format", "json", "--skip-java-db-update"]
    if os.environ.get("SCAN_DB_DOWNLOAD") != "1":
        cmd.append("--skip-db-update")
    proc = run([*cmd, *java_db_flags(), image])
    if proc.returncode == 0:
        report.add(Outcome(name, "ok", "no fixable HIGH/CRITICAL"))
        return
    found = trivy_failures(proc.stdout)
    for f in found:
        print(f"      {f}")
    status = "findings" if found else "error"
    report.add(Outcome(name, status, f"{len(found)} fixable HIGH/CRITICAL" if found else proc.stderr.strip()[-300:]))


def scan_image_secrets(report: Report, image: str, ignore: Path) -> None:
    """Secrets baked into layers and the image config (needs no DB, so it always runs)."""
    name = f"trivy image secrets+config {image}"
    proc = run(
        [
            *(TRIVY, "image", "--quiet", "--scanners", "secret", "--image-config-scanners", "misconfig,secret"),
            *("--severity", SEVERITIES, "--exit-code", "1", "--ignorefile", str(ignore), "--format", "json"),
            *("--skip-db-update", "--skip-java-db-update", "--skip-check-update", image),
        ]
    )
    if proc.returncode == 0:
        report.add(Outcome(name, "ok"))
        return
    found = trivy_failures(proc.stdout)
    for f in found:
        print(f"      {f}")
    detail = f"{len(found)} finding(s)" if found else proc.stderr[-300:]
    report.add(Outcome(name, "findings" if found else "error", detail))


SECRET_ENV = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY)", re.I)


def image_config_findings(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Dockle's CIS-DI-0001 (non-root user) and CIS-DI-0010 (no secrets in ENV) from the image config itself."""
    found = []
    user = str(config.get("User") or "").split(":", 1)[0]
    if user in ("", "0", "root"):
        found.append(("CIS-DI-0001", f"runs as root (User={config.get('User')!r}); set a numeric non-root USER"))
    for entry in config.get("Env") or []:
        key, _, value = entry.partition("=")
        if SECRET_ENV.search(key) and value and not key.endswith(("_FILE", "_PATH", "_DIR")):
            found.append(("CIS-DI-0010", f"ENV {key} holds a value that looks like a secret (pass a *_FILE instead)"))
    return found


def scan_image_config(report: Report, image: str, waivers: Waivers) -> None:
    """Runs everywhere (no DB, no binary), so the two most important CIS image checks never depend on Dockle."""
    name = f"image config policy {image}"
    inspect = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{json .Config}}", image], capture_output=True, text=True, check=True
    )
    found = [
        (rule, msg)
        for rule, msg in image_config_findings(json.loads(inspect.stdout))
        if not waivers.accepts("dockle", rule, image)
    ]
    for rule, msg in found:
        print(f"      {rule}: {msg}")
    report.add(
        Outcome(
            name, "findings" if found else "ok", f"{len(found)} finding(s)" if found else "non-root, no secrets in ENV"
        )
    )


def scan_dockle(report: Report, image: str, waivers: Waivers) -> None:
    name = f"dockle {image}"
    if not DOCKLE:
        banner(f"DOCKLE (CIS image checks) DID NOT RUN for {image}: no dockle binary on this machine.")
        report.add(Outcome(name, "unavailable", "dockle not installed", gap="dockle"))
        return
    cmd = [DOCKLE, "--exit-code", "1", "--exit-level", "warn"]
    for rule in waivers.ids("dockle"):
        cmd += ["--ignore", rule]
    proc = run([*cmd, image], capture=False)
    report.add(Outcome(name, "ok" if proc.returncode == 0 else "findings"))


def write_sbom(report: Report, image: str) -> None:
    """CycloneDX SBOM from the image itself (dpkg + Python dist-info), next to the image digest."""
    base = image.rsplit("/", 1)[-1].split(":", 1)[0]
    out_dir = REPORTS / "sbom"
    out_dir.mkdir(parents=True, exist_ok=True)
    sbom = out_dir / f"{base}.cdx.json"
    proc = run(
        [
            *(TRIVY, "image", "--quiet", "--format", "cyclonedx", "--output", str(sbom)),
            *("--skip-db-update", "--skip-java-db-update", "--skip-check-update", *java_db_flags(), image),
        ]
    )
    name = f"sbom {image}"
    if proc.returncode != 0 or not sbom.is_file():
        report.add(Outcome(name, "error", proc.stderr.strip()[-300:]))
        return
    doc = json.loads(sbom.read_text())
    components = doc.get("components") or []
    if doc.get("bomFormat") != "CycloneDX" or not components:
        report.add(Outcome(name, "error", f"{sbom} is not a CycloneDX SBOM with components"))
        return
    inspect = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{json .}}", image], capture_output=True, text=True, check=True
    )
    meta = json.loads(inspect.stdout)
    digest = {
        "image": image,
        "id": meta["Id"],
        "repo_digests": meta.get("RepoDigests") or [],
        "tags": meta.get("RepoTags") or [],
        "created": meta.get("Created"),
        "sbom": sbom.name,
        "components": len(components),
    }
    (out_dir / f"{base}.digest.json").write_text(json.dumps(digest, indent=2) + "\n")
    report.add(Outcome(name, "ok", f"{sbom} ({len(components)} components, {meta['Id'][:19]})"))


def cmd_images(args: argparse.Namespace, waivers: Waivers) -> int:
    report = Report()
    if not require(TRIVY, "trivy"):
        return 2
    ignore = trivy_ignorefile(waivers)
    for image in args.image:
        probe = subprocess.run([DOCKER, "image", "inspect", image], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            report.add(Outcome(f"image {image}", "error", "image not found locally (run `make images`)"))
            continue
        scan_vulns(report, image, ignore)
        scan_image_secrets(report, image, ignore)
        scan_image_config(report, image, waivers)
        scan_dockle(report, image, waivers)
        write_sbom(report, image)
    return report.exit_code()


def cmd_waivers(_: argparse.Namespace, waivers: Waivers) -> int:
    for w in waivers.all:
        print(f"{w.tool:<13} {w.id:<40} {w.reason}")
    print(f"==> {len(waivers.all)} waiver(s), all with a reason")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waivers", default=os.environ.get("SCAN_WAIVERS") or str(ROOT / "scan" / "waivers.yaml"))
    sub = parser.add_subparsers(dest="command", required=True)
    cfg = sub.add_parser("config", help="config scanners on Dockerfiles, Kubernetes manifests/charts, compose files")
    cfg.add_argument("--dockerfile", action="append", default=[])
    cfg.add_argument("--k8s", action="append", default=[], help="manifest file, directory or Helm chart directory")
    cfg.add_argument("--compose", action="append", default=[])
    img = sub.add_parser("images", help="vulnerability/secret/CIS scans and a CycloneDX SBOM per image")
    img.add_argument("image", nargs="+")
    sub.add_parser("waivers", help="validate and list the waivers")
    args = parser.parse_args(argv)
    try:
        waivers = load_waivers(Path(args.waivers))
    except WaiverError as exc:
        print(f"scan: {exc}", file=sys.stderr)
        return 2
    missing = [p for p in getattr(args, "dockerfile", []) + getattr(args, "k8s", []) + getattr(args, "compose", [])]
    missing = [p for p in missing if not Path(p).exists()]
    if missing:
        print(f"scan: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    handler = {"config": cmd_config, "images": cmd_images, "waivers": cmd_waivers}[args.command]
    return handler(args, waivers)


if __name__ == "__main__":
    sys.exit(main())
