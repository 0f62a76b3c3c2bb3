"""Quiet, safer kernels: IPC transport, no SIGINT before a clean shutdown, failures as one line + the user's cell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops

TRANSPORT_CELL = (
    "import json, os, stat\n"
    "from ipykernel.connect import get_connection_file\n"
    "info = json.load(open(get_connection_file()))\n"
    "folder = os.path.dirname(info['ip'])\n"
    "json.dump({'transport': info['transport'], 'ip': info['ip'], 'mode': oct(stat.S_IMODE(os.stat(folder).st_mode))},"
    " open('transport.json', 'w'))"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="IPC sockets and /proc are checked on Linux")
def test_local_kernels_use_ipc_in_a_private_folder_and_say_nothing(
    ws: mlops.Workspace, capfd: pytest.CaptureFixture[str]
) -> None:
    root = ws.settings.root
    nb = write_notebook(root / "t.ipynb", [TRANSPORT_CELL, "x = 1"])
    for _ in range(3):
        rec = ws.pipelines.run_notebook(nb)
        assert rec.outcome == "SUCCEEDED", rec.message
    info = json.loads((root / "transport.json").read_text())
    assert info["transport"] == "ipc"
    assert info["mode"] == "0o700"  # other local users cannot reach the kernel's sockets
    assert not os.path.exists(os.path.dirname(info["ip"]))  # removed after the kernel shut down
    err = capfd.readouterr().err
    assert "without encryption" not in err
    assert "KeyboardInterrupt" not in err


def test_a_clean_shutdown_sends_no_sigint_but_a_busy_kernel_still_gets_one(tmp_path: Path) -> None:
    """The kernel records every SIGINT it receives; the stock manager interrupts even an idle kernel."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    from jupyter_mlops.pipelines.engine import KernelHandle, _kernel_manager_class

    marker = tmp_path / "sigints.txt"
    cell = (
        "import signal\n"
        f"def seen(*_): open({str(marker)!r}, 'a').write('SIGINT\\n')\n"
        "signal.signal(signal.SIGINT, seen)\n"
        "k = get_ipython().kernel\n"
        "k.post_handler_hook = lambda: None  # keep our handler after the cell (ipykernel restores its own)\n"
    )

    async def run(manager: type) -> int:
        km = manager(kernel_name="python3")
        handle = KernelHandle()
        km.mlops_handle = handle
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        reply = await kc.execute_interactive(cell, timeout=60)
        assert reply["content"]["status"] == "ok"
        kc.stop_channels()
        await km.shutdown_kernel()
        return marker.read_text().count("SIGINT") if marker.exists() else 0

    assert asyncio.run(run(AsyncKernelManager)) >= 1  # the noise source: an interrupt on every shutdown
    marker.unlink(missing_ok=True)
    assert asyncio.run(run(_kernel_manager_class())) == 0


def test_a_failed_notebook_prints_one_line_and_the_users_traceback(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    write_notebook(
        root / "bad.ipynb",
        ["x = 1", "def load(n):\n    return {}[n]\n\nload('missing-key')"],
        "C = 0.5",
    )
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "bad.ipynb"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "JUPYTER_MLOPS_USER": "alice"},
    )
    assert done.returncode == 1
    out = done.stdout.splitlines()
    assert out[0].startswith("bad: FAILED run ")
    assert out[1].strip() == "cell 2 raised KeyError: 'missing-key'"
    trace = [line for line in out if line.startswith("  | ")]
    assert any("load('missing-key')" in line for line in trace)
    assert any("return {}[n]" in line for line in trace)
    assert trace[-1] == "  | KeyError: 'missing-key'"
    for noise in ("PapermillExecutionError", "nbclient", "Traceback (most recent call last):\n  File", "\x1b["):
        assert noise not in done.stdout + done.stderr
    assert "KeyboardInterrupt" not in done.stderr and "without encryption" not in done.stderr
