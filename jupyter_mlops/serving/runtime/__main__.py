"""``python -m jupyter_mlops.serving.runtime --config serving.yaml``: a gateway from a build context alone.

The build context written by ``jupyter-mlops package`` holds ``serving.yaml`` (every model a
concrete version with its bundle folder), the bundles, and this runtime. State (the stop switch,
weights) and its hash-linked event log live in ``--state-dir``; predictions go to ``--log-dir``.
The admin token is read from ``--token-file`` (a mounted secret), or generated there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from . import check_address, read_or_create_token, run
    from .app import Gateway, create_app
    from .control import FileControl
    from .spec import load_spec

    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.serving.runtime", description=__doc__)
    parser.add_argument("--config", default="serving.yaml", help="the resolved deployment (default: serving.yaml)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--state-dir", default="state", help="stop switch, weights and the event log")
    parser.add_argument("--log-dir", default="log", help="the prediction log")
    parser.add_argument("--token-file", default=None, help="admin bearer token (default: STATE_DIR/admin-token)")
    args = parser.parse_args(argv)
    check_address(args.host, args.port)
    config = Path(args.config)
    spec = load_spec(config)
    state_dir = Path(args.state_dir)
    token = read_or_create_token(Path(args.token_file) if args.token_file else state_dir / "admin-token")
    gateway = Gateway(
        root=config.resolve().parent,
        control=FileControl(state_dir, spec),
        log_dir=Path(args.log_dir),
        admin_token=token,
    )
    run(create_app(gateway), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
