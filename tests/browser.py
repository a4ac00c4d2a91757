"""Helpers for the web app tests: a real Gradio server on a free loopback port, Debian chromium through
Playwright, and raw calls to Gradio's HTTP queue API (what an attacker with ``curl`` would do).

Chromium needs the background-networking flags: without them it tries to reach Google services, and
this machine's closed network refuses the connections in ways that stall page loads.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import uuid
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PASSWORD = "correct horse battery staple"
TEST_MODEL = "qwen2.5-0.5b-instruct"
QUESTION = "Why do many small models tie the input embedding matrix to the output layer?"


@contextlib.contextmanager
def serve_test_app(data_dir: Path):
    """The app as the tests run it: an instructor account, no login delay, short answers, and the small
    Qwen preset (the default 1.5B answers the same way, three times slower)."""
    import app

    config = app.AppConfig(
        data_dir=str(data_dir), instructor_user="prof", instructor_password=PASSWORD, model=TEST_MODEL,
        builtin_courses=("sample",),  # the second built-in course is loaded by test_python_app_py_starts_...
        login_failure_delay_s=0.0, engine_options={"max_new_tokens": 48},
    )
    with serve(config) as served:
        yield served


@contextlib.contextmanager
def serve(config, kb=None, engine=None, **build):
    """Build and launch the app in this process (so tests share loaded models); yield ``(demo, url)``.
    ``build``: more ``app.build_app`` arguments (e.g. a fake ``clock``)."""
    import app

    config.host, config.port = "127.0.0.1", free_port()
    demo = app.build_app(config, kb=kb, engine=engine, **build)
    app.launch(config, demo, block=False)
    try:
        yield demo, f"http://127.0.0.1:{config.port}/"
    finally:
        demo.close()


@contextlib.contextmanager
def chromium_page(viewport=(1280, 900)):
    """A fresh chromium profile and one page; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        # Generous: CI shares 2 cores between the model, the Gradio server and chromium itself; a busy
        # machine has been seen to take over 30 s to show an uploaded file.
        ctx.set_default_timeout(120_000)
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def fn_index(url: str, api_name: str) -> int:
    """The queue id of an event handler, read from the public ``/config`` like any client can."""
    config = httpx.get(url.rstrip("/") + "/config", timeout=10).json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name:
            return dep["id"]
    raise KeyError(api_name)


def browser_client(url: str, timeout: float = 120) -> httpx.Client:
    """An HTTP client that keeps cookies, after loading the page once: it holds a browser key cookie as a
    real browser does (a client without one is what a replayed session id looks like)."""
    client = httpx.Client(timeout=timeout)
    client.get(url).raise_for_status()
    assert client.cookies.get("tutor_browser"), "the page set no browser key cookie"
    return client


def raw_call(url: str, index: int, data: list, session: str | None = None, timeout: float = 120,
             client: httpx.Client | None = None, event_data: dict | None = None, page_query: dict | None = None) -> dict:
    """Run one event through ``/gradio_api/queue/join`` (in ``session``, else a brand-new one) the way the
    page's JavaScript does, with ``client``'s cookies (none by default); return the final
    ``process_completed`` message. The body is ASCII JSON, so a lone surrogate travels as ``\\ud800``.
    ``page_query``: the page address's query (``/?course=ml101``), which the page's client sends with each join."""
    base, session = url.rstrip("/"), session or uuid.uuid4().hex[:12]
    own = client is None
    client = client or httpx.Client(timeout=timeout)
    try:
        body = json.dumps({"data": data, "fn_index": index, "session_hash": session, "event_data": event_data,
                           "trigger_id": None})
        joined = client.post(f"{base}/gradio_api/queue/join", content=body, params=page_query,
                             headers={"content-type": "application/json"})
        joined.raise_for_status()
        with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        return msg
    finally:
        if own:
            client.close()
    raise AssertionError("the queue stream ended without process_completed")


def raw_upload(url: str, path: Path, client: httpx.Client | None = None) -> httpx.Response:
    """POST a file to ``/gradio_api/upload`` with ``client``'s cookies (none by default): the raw response."""
    with open(path, "rb") as f:
        return (client or httpx).post(url.rstrip("/") + "/gradio_api/upload", files={"files": (path.name, f)}, timeout=30)


def file_data(response: httpx.Response, path: Path) -> dict:
    """The FileData a File input expects, from an accepted upload's response."""
    response.raise_for_status()
    return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def write_doc(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def log_in(page, user: str = "prof", password: str = PASSWORD) -> None:
    """Open the Instructor tab and log in through its form, as an instructor does."""
    page.get_by_role("tab", name="Instructor").click()
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.locator("#login-button").click()
    page.get_by_text("Logged in as").wait_for()
