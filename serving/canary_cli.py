"""`ocs canary`: watch the split, judge the canary, and change its weight through Helm."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.cli_common import fail, settings
from serving.config import Settings

canary_app = typer.Typer(
    help="Canary releases: status, analyze, set-weight, promote, rollback", no_args_is_help=True
)

UrlOpt = Annotated[str | None, typer.Option(help="Gateway URL; default http://OCS_HOST:OCS_PORT")]
KeyOpt = Annotated[
    str | None,
    typer.Option(envvar="OCS_ADMIN_API_KEY", help="admin-scope key; local: .ocs/local-api-key"),
]
PollsOpt = Annotated[
    int, typer.Option(min=1, help="reports to fetch; several reach several Gateway replicas")
]
ReleaseOpt = Annotated[str, typer.Option(help="Helm release")]
NamespaceOpt = Annotated[str, typer.Option(help="Kubernetes namespace")]
ChartOpt = Annotated[str, typer.Option(help="chart path or reference")]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="run the helm upgrade (else print it)")]


def _key(s: Settings, key: str | None) -> str:
    if key:
        return key
    from serving.auth import LOCAL_KEY_FILE

    local = s.state_dir / LOCAL_KEY_FILE
    if local.is_file():
        return local.read_text().strip()
    fail("no API key: pass --key or set OCS_ADMIN_API_KEY (a key with the admin scope)")


def fetch_reports(url: str, key: str, polls: int = 1) -> list[dict[str, Any]]:
    """``GET /v1/canary`` ``polls`` times; one report per distinct Gateway replica."""
    import httpx

    seen: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(polls):
            try:
                r = client.get("/v1/canary", headers={"Authorization": f"Bearer {key}"})
            except httpx.TransportError as exc:
                fail(f"cannot reach the Gateway at {url}: {exc}")
            if r.status_code != 200:
                fail(f"GET {url}/v1/canary answered {r.status_code}: {r.text[:300]}")
            report = r.json()
            seen[report["replica"]] = report
    return list(seen.values())


def _url(s: Settings, url: str | None) -> str:
    return (url or f"http://{s.host}:{s.port}").rstrip("/")


def _p95(latencies: list[float]) -> str:
    if not latencies:
        return "-"
    ordered = sorted(latencies)
    return f"{ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000:.1f} ms"


@canary_app.command("status")
def status(
    url: UrlOpt = None,
    key: KeyOpt = None,
    polls: PollsOpt = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The live split, model versions and per-track figures of the Gateway replicas reached."""
    s = settings()
    reports = fetch_reports(_url(s, url), _key(s, key), polls)
    if as_json:
        typer.echo(json.dumps(reports))
        return
    for r in reports:
        config = r["config"]
        typer.echo(
            f"replica {r['replica']}: enabled={config['enabled']} weight={config['weight']} "
            f"shadow={config['shadow']} effective_weight={r['effective_weight']}"
        )
        if r["canary_problem"]:
            typer.echo(f"  canary problem: {r['canary_problem']}")
        for track, t in r["tracks"].items():
            served = len(t["scores"])
            share = t["orders"] / max(1, sum(x["orders"] for x in r["tracks"].values()))
            typer.echo(
                f"  {track:<7} {r['tags'].get(track, '-'):<36} orders {t['orders']:>8} "
                f"({share:.1%})  errors {t['errors']:>5}  p95 {_p95(t['latencies_s'])}"
                f"  samples {served}"
            )
        shadow = r["shadow"]
        if shadow["compared"]:
            typer.echo(f"  shadow agreement {shadow['agreement']:.1%} of {shadow['compared']}")


def _read_outcomes(path: Path) -> dict[str, bool]:
    """order_id -> cancelled, from a .csv/.parquet with columns order_id and cancelled (0/1)."""
    from training.data import read_table

    df = read_table(path)
    missing = {"order_id", "cancelled"} - set(df.columns)
    if missing:
        fail(f"{path} lacks the columns {sorted(missing)} (need order_id, cancelled)")
    return {str(o): bool(c) for o, c in zip(df["order_id"], df["cancelled"], strict=True)}


@canary_app.command("analyze")
def analyze(
    url: UrlOpt = None,
    key: KeyOpt = None,
    polls: PollsOpt = 3,
    outcomes: Annotated[
        Path | None, typer.Option(help="order_id,cancelled table: realized accuracy per track")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Canary vs stable; prints the verdict and its reasons. Exit 0 promote, 3 hold, 4 rollback."""
    from serving.canary_analysis import Thresholds, merge_reports
    from serving.canary_analysis import analyze as run_analysis

    s = settings()
    reports = fetch_reports(_url(s, url), _key(s, key), polls)
    known = _read_outcomes(outcomes) if outcomes else None
    result = run_analysis(merge_reports(reports), Thresholds.from_settings(s), known)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(f"verdict: {result.verdict.name}")
        for reason in result.reasons:
            typer.echo(f"  - {reason}")
        for track, f in result.tracks.items():
            p95 = f"{f.p95_s * 1000:.1f} ms" if f.p95_s is not None else "-"
            acc = f"{f.accuracy:.3f} ({f.outcomes})" if f.accuracy is not None else "-"
            brier = f"{f.brier:.4f}" if f.brier is not None else "-"
            typer.echo(
                f"  {track:<7} orders {f.orders:>8}  error rate {f.error_rate:.3%}  p95 {p95}"
                f"  accuracy {acc}  brier {brier}"
            )
        if result.ks_statistic is not None:
            typer.echo(f"  KS D={result.ks_statistic:.3f} p={result.ks_pvalue:.3g}")
    raise typer.Exit(int(result.verdict))


def helm_upgrade(release: str, chart: str, namespace: str, values: dict[str, str]) -> list[str]:
    """The helm command that changes only these values of a release."""
    cmd = ["helm", "upgrade", release, chart, "--namespace", namespace, "--reuse-values"]
    for name, value in values.items():
        cmd += ["--set", f"{name}={value}"]
    return cmd


def _change(values: dict[str, str], release: str, chart: str, namespace: str, apply: bool) -> None:
    typer.echo("values change:")
    for name, value in values.items():
        typer.echo(f"  {name}: {value}")
    cmd = helm_upgrade(release, chart, namespace, values)
    typer.echo(f"helm command:\n  {shlex.join(cmd)}")
    if not apply:
        return
    helm = shutil.which("helm")
    if helm is None:
        fail("helm is not on PATH: install helm 4 (or `python -m tests.tools` in a checkout)")
    done = subprocess.run([helm, *cmd[1:]], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"helm upgrade failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    typer.echo(done.stdout.strip())


@canary_app.command("set-weight")
def set_weight(
    weight: Annotated[int, typer.Argument(min=0, max=100, help="percent of orders on canary")],
    release: ReleaseOpt = "ocs",
    chart: ChartOpt = "helm/ocs",
    namespace: NamespaceOpt = "ocs",
    apply: ApplyOpt = False,
) -> None:
    """Change the canary weight: only the Gateway's user_config changes, applied live."""
    _change({"predictor.canary.weight": str(weight)}, release, chart, namespace, apply)


@canary_app.command("promote")
def promote(
    tag: Annotated[str | None, typer.Option(help="canary model tag; default: read it live")] = None,
    url: UrlOpt = None,
    key: KeyOpt = None,
    release: ReleaseOpt = "ocs",
    chart: ChartOpt = "helm/ocs",
    namespace: NamespaceOpt = "ocs",
    apply: ApplyOpt = False,
) -> None:
    """Make the canary model stable and switch the canary off."""
    if tag is None:
        s = settings()
        reports = fetch_reports(_url(s, url), _key(s, key))
        tag = reports[0]["tags"].get("canary")
        if not tag:
            fail("the Gateway serves no canary model; pass --tag NAME:VERSION")
    values = {
        "predictor.stable.modelTag": tag,
        "predictor.canary.enabled": "false",
        "predictor.canary.weight": "0",
        "predictor.canary.shadow": "false",
    }
    _change(values, release, chart, namespace, apply)


@canary_app.command("rollback")
def rollback(
    release: ReleaseOpt = "ocs",
    chart: ChartOpt = "helm/ocs",
    namespace: NamespaceOpt = "ocs",
    apply: ApplyOpt = False,
) -> None:
    """Send every order back to stable and remove the canary Predictor."""
    values = {
        "predictor.canary.enabled": "false",
        "predictor.canary.weight": "0",
        "predictor.canary.shadow": "false",
    }
    _change(values, release, chart, namespace, apply)
