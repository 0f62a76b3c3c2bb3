"""What the real-browser tests share: Debian's Chromium for pytest-playwright, the XSS corpus,
and neutral stand-ins for pytest-jupyter's autouse fixtures (these tests run a real ``jupyter lab``).

Import the fixtures into a browser test module to use them there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from harness import CHROMIUM_FLAGS, chromium_path

#: Stored through the API and shown by the UI. Anything that runs sets window.__xss or opens a dialog.
XSS_PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    '<svg onload="window.__xss=3;alert(3)">',
    "<svg><script>window.__xss=4</script></svg>",
    '<iframe src="javascript:window.parent.__xss=5"></iframe>',
    '<a href="javascript:window.__xss=6">click me</a>',
    "javascript:window.__xss=7",
    '<body onload="window.__xss=8">',
    '<details open ontoggle="window.__xss=9">',
    '<input autofocus onfocus="window.__xss=10">',
    '<video><source onerror="window.__xss=11"></video>',
    '<audio src=x onerror="window.__xss=12">',
    '<marquee onstart="window.__xss=13">m</marquee>',
    '"><script>window.__xss=14</script>',
    "'><img src=x onerror=window.__xss=15>",
    "</textarea><script>window.__xss=16</script>",
    "</title><script>window.__xss=17</script>",
    "<style>@import 'javascript:window.__xss=18';</style>",
    '<object data="javascript:window.__xss=19"></object>',
    '<embed src="javascript:window.__xss=20">',
    '<form id="mlops"><input name="attributes"></form>',
    '<img id="__proto__" name="getElementById">',
    '<a id="location" href="javascript:window.__xss=23">x</a>',
    "[click](javascript:window.__xss=24)",
    '![img](x" onerror="window.__xss=25)',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=26>",
    '<svg><a xlink:href="javascript:window.__xss=27"><text x=20 y=20>x</text></a></svg>',
    "{{constructor.constructor('window.__xss=28')()}}",
    "${window.__xss=29}",
    '<img src="x" onerror="&#119;indow.__xss=30">',
    "<scr<script>ipt>window.__xss=31</scr</script>ipt>",
    '<div style="background:url(javascript:window.__xss=32)">',
    '<base href="javascript:window.__xss=33//">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=34">',
]


def ensure_browser() -> str:
    """Debian's Chromium, or a skip (a failure when MLOPS_REQUIRE_BROWSER=1, as in CI)."""
    exe = chromium_path()
    if not exe:
        if os.environ.get("MLOPS_REQUIRE_BROWSER") == "1":
            pytest.fail("MLOPS_REQUIRE_BROWSER=1 but no chromium found")
        pytest.skip("no system chromium (apt-get install chromium)")
    return exe


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright drives Debian's Chromium (Playwright's own download cannot work here)."""
    return {**browser_type_launch_args, "executable_path": ensure_browser(), "args": CHROMIUM_FLAGS}


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    """Replaces pytest-jupyter's autouse event loop: Playwright's sync API runs its own loop,
    and closing pytest-jupyter's loop while Playwright's is running fails at teardown."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    """Replaces pytest-jupyter's in-process server clean-up: these tests use a real ``jupyter lab``."""
    yield None
