"""Serving commands: ``serve``, ``deploy``, ``package``, ``trace`` and ``monitor``.

- ``serve SPEC [SPEC ...] [--config deployment.yaml] [--host H] [--port P]`` runs a gateway
  (blocking), ``serve --name NAME`` runs the recorded deployment as it is (a restart);
  ``serve stop|resume|status NAME`` and ``serve weights NAME REF=W ...`` act on a recorded
  deployment (the running gateway picks the change up within a second);
- ``deploy SPEC --canary 10 [--name D]`` starts a canary;
- ``package SPEC --out DIR`` writes a container build context;
- ``trace REQUEST_ID`` walks from a prediction back to the cell and the data;
- ``monitor NAME [--watch 60s]`` prints traffic, latency, split, drift and alerts (once, or every
  interval as the monitoring job that records drift alerts; ``serve`` starts one next to its
  gateway, in a process of its own, so drift never stalls a request).

Each command parses, calls :class:`~jupyter_mlops.serving.service.ServingService` and returns a
:class:`Result`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any

from ..errors import InvalidInput
from .commands import CommandUsageError, Context, Result, parse_kv

__all__ = ["register"]

_VERBS = ("stop", "resume", "status", "weights", "disable", "enable")


def _service(ctx: Context) -> Any:
    from ..serving.service import ServingService

    return ServingService(ctx.workspace())


def register(subs: Any) -> None:
    p = subs.add_parser(
        "serve",
        help="serve approved model versions through a gateway; serve stop|resume|status|weights NAME",
        description="serve SPEC [SPEC ...] starts a gateway; serve --name NAME restarts the recorded deployment as it is "
        "(canary, weights, stop switch); serve stop NAME (the stop switch), resume NAME, status NAME, "
        "weights NAME REF=W ..., disable|enable NAME REF act on a recorded deployment.",
    )
    p.add_argument(
        "args", nargs="*", metavar="SPEC", help="model versions (arrests-clf@champion), or a verb and a deployment name"
    )
    p.add_argument("--config", help="a deployment.yaml (variants, canary, shadow, sticky, analysis)")
    p.add_argument("--name", help="deployment name (default: the first model's name)")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="default 8080")
    p.add_argument("--token", dest="invoke_token", help="require this bearer token on /invocations and /metrics too")
    p.add_argument("--reason", default="", help="why the stop switch was used (kept in the audit trail)")
    p.add_argument(
        "--monitor-every",
        default="60s",
        metavar="DURATION",
        help="how often the monitoring job started next to the gateway checks drift (default 60s)",
    )
    p.add_argument(
        "--no-monitor", action="store_true", help="start no monitoring job (run `jupyter-mlops monitor NAME --watch` yourself)"
    )
    p.set_defaults(func=_serve)

    p = subs.add_parser("deploy", help="start a canary of an approved version in a running deployment")
    p.add_argument("spec", help="model version, e.g. arrests-clf@4")
    p.add_argument("--canary", type=int, default=10, help="the canary's starting share of traffic in percent (default 10)")
    p.add_argument("--name", help="deployment name (default: the model's name)")
    p.set_defaults(func=_deploy)

    p = subs.add_parser("package", help="write a container build context (Dockerfile, pinned requirements, model, manifests)")
    p.add_argument("specs", nargs="*", metavar="SPEC", help="model versions, e.g. arrests-clf@champion")
    p.add_argument("--config", help="a deployment.yaml instead of SPECs")
    p.add_argument("--out", required=True, help="the folder to write (must be empty or absent)")
    p.add_argument("--canary", type=int, default=10, help="canaryTrafficPercent of the KServe InferenceService (default 10)")
    p.add_argument("--tar", action="store_true", help="also write DIR.tar.gz (sorted entries, fixed mtimes)")
    p.set_defaults(func=_package)

    p = subs.add_parser("trace", help="from a prediction's request id back to model, review, run, cell and data")
    p.add_argument("request_id", help="the X-Request-Id header of a response")
    p.set_defaults(func=_trace)

    p = subs.add_parser("monitor", help="requests, errors, latency, split, drift and alerts of a deployment")
    p.add_argument("name", help="deployment name")
    p.add_argument("--last", type=int, default=1000, help="how many recent predictions (default 1000)")
    p.add_argument(
        "--watch", metavar="DURATION", help="report every DURATION (e.g. 60s) until interrupted, recording drift alerts"
    )
    p.add_argument("--exit-with", type=int, metavar="PID", help="with --watch: end when process PID (a gateway) ends")
    p.set_defaults(func=_monitor)


def _serve(ctx: Context, args: argparse.Namespace) -> Result:
    svc = _service(ctx)
    if args.args and args.args[0] in _VERBS:
        verb, rest = args.args[0], args.args[1:]
        if not rest:
            raise CommandUsageError(f"serve {verb} needs a deployment name, e.g. `jupyter-mlops serve {verb} arrests`")
        name = rest[0]
        if verb == "status":
            status = svc.status(name)
            return Result(status, str(status))
        if verb == "stop":
            state = svc.stop(name, args.reason)
            return Result(
                state, f"stop switch on for {name} (revision {state['revision']}): predictions answer 503 within a second"
            )
        if verb == "resume":
            state = svc.resume(name)
            return Result(state, f"{name} serves predictions again (revision {state['revision']})")
        if verb == "weights":
            try:
                weights = {k: int(v) for k, v in parse_kv(rest[1:]).items()}
            except ValueError:
                raise CommandUsageError(
                    "weights are whole numbers: serve weights arrests arrests-clf@1=90 arrests-clf@2=10"
                ) from None
            state = svc.admin(name, "weights", {"weights": weights})
            return Result(state, f"{name} weights: {json.dumps({v['model']: v['weight'] for v in state['spec']['variants']})}")
        if len(rest) != 2:
            raise CommandUsageError(f"serve {verb} NAME MODEL@VERSION")
        state = svc.admin(name, verb, {"model": rest[1]})
        return Result(state, f"{rest[1]} {verb}d in {name} (revision {state['revision']})")
    from ..serving.runtime import check_address

    every = None if args.no_monitor else _duration(args.monitor_every, "--monitor-every")
    check_address(args.host, args.port)  # before anything is recorded
    if args.args or args.config:
        _warn_if_replacing_a_canary(svc, args)
    spec = svc.prepare(args.args, config=args.config, name=args.name)
    home = svc.home(spec.name)
    sys.stderr.write(
        f"serving {spec.name} ({', '.join(f'{v.model} {v.weight}%' for v in spec.variants)}) on http://{args.host}:{args.port}\n"
        f"admin token: {home / 'admin-token'}; prediction log: {home / 'log'}\n"
    )
    sys.stderr.flush()
    job = None if every is None else _start_monitor(svc, args, spec.name, every)
    try:
        svc.run_gateway(spec.name, host=args.host, port=args.port, invoke_token=args.invoke_token)
    finally:
        if job is not None:
            job.terminate()
            try:
                job.wait(timeout=10)
            except subprocess.TimeoutExpired:
                job.kill()
    return Result({"deployment": spec.name}, f"gateway {spec.name} stopped")


def _warn_if_replacing_a_canary(svc: Any, args: argparse.Namespace) -> None:
    """Serving a declared spec replaces the recorded deployment; say so when that drops a canary."""
    from ..errors import MlopsError

    name = args.name or (str(args.args[0]).partition("@")[0] if args.args else None)
    if name is None:
        return  # --config names it; prepare reports the change in the audit trail
    try:
        variants = svc.control(name).load()["spec"]["variants"]
    except MlopsError:
        return
    canary = next((v for v in variants if v.get("role") == "canary"), None)
    if canary is not None:
        sys.stderr.write(
            f"note: deployment {name} runs canary {canary['model']} at {canary['weight']}%; the versions named here "
            f"replace it. To restart the recorded deployment as it is, run `jupyter-mlops serve --name {name}`.\n"
        )


def _duration(text: str, option: str) -> float:
    from ..serving.runtime.spec import parse_duration

    try:
        return parse_duration(text, option)
    except InvalidInput as err:
        raise CommandUsageError(err.message) from None


def _start_monitor(svc: Any, args: argparse.Namespace, name: str, every: float) -> subprocess.Popen[bytes]:
    """The monitoring job of a gateway: this CLI's ``monitor NAME --watch``, in a process of its own.

    Drift needs the log and the training data; reading them in the gateway would hold its GIL.
    The job runs at a lower CPU priority, writes to ``.mlops/serving/<name>/monitor.log``, and
    ends with the gateway (when it is killed too: ``--exit-with`` watches this process).
    """
    cmd = [sys.executable, "-m", "jupyter_mlops.cli.main", "-C", str(svc.ctx.settings.root)]
    if args.user:
        cmd += ["--user", args.user]
    cmd += ["monitor", name, "--watch", f"{every:g}s", "--exit-with", str(os.getpid())]
    log = open(svc.home(name) / "monitor.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        job = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, job.pid, 10)
    return job


def _deploy(ctx: Context, args: argparse.Namespace) -> Result:
    state = _service(ctx).deploy(args.spec, canary=args.canary, name=args.name)
    canary = next(v for v in state["spec"]["variants"] if v["role"] == "canary")
    name = state["spec"]["name"]
    return Result(
        state, f"canary {canary['model']} gets {canary['weight']}% of {name}; the gateway's analysis steps it up or rolls it back"
    )


def _package(ctx: Context, args: argparse.Namespace) -> Result:
    built = _service(ctx).package(args.specs, out=args.out, config=args.config, canary=args.canary, tar=args.tar)
    return Result(built, str(built))


def _trace(ctx: Context, args: argparse.Namespace) -> Result:
    found = _service(ctx).trace(args.request_id)
    return Result(found, str(found))


def _monitor(ctx: Context, args: argparse.Namespace) -> Result:
    svc = _service(ctx)
    if args.watch is None:
        if args.exit_with is not None:
            raise CommandUsageError("--exit-with goes with --watch")
        report = svc.monitor(args.name, last=args.last)
        return Result(report, str(report))
    every = _duration(args.watch, "--watch")
    parent = args.exit_with

    def parent_gone() -> bool:
        return parent is not None and (os.getppid() != parent or not _alive(parent))

    def stamp() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def failed(err: Exception) -> None:
        sys.stdout.write(f"{stamp()} {args.name}: this report failed, the next one is due as usual: {err}\n")
        sys.stdout.flush()

    count = 0
    watching = svc.watch(args.name, every=every, last=args.last, wait_first=parent is not None, stop=parent_gone, on_error=failed)
    for report in watching:
        count += 1
        t = report.totals
        drift = "unknown" if report.dataset_drift is None else ("DRIFT" if report.dataset_drift else "no drift")
        sys.stdout.write(
            f"{stamp()} {args.name}: {t['requests']} requests, {t['errors']} errors, p99 {t['p99_ms']} ms, data set {drift}\n"
        )
        sys.stdout.flush()
    return Result({"deployment": args.name, "reports": count}, f"monitoring of {args.name} ended after {count} reports")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
