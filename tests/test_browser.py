"""The notebooks as a student uses them: JupyterLab in a real (headless) browser.

Run with ``pytest -m browser`` (``.ci/run`` does, after ``pytest``; plain ``pytest`` deselects
it). A JupyterLab server is started on 127.0.0.1, on a free port, without a token, over a
temporary copy of the committed notebooks (autosave off; nothing is ever saved), with a kernel
of this interpreter in FAST mode with live widgets (``IDEAL_DIFFUSION_FAST=1``,
``IDEAL_DIFFUSION_WIDGETS=1``). The system chromium (``/usr/bin/chromium``, Debian's package)
is driven by playwright with a fresh profile. For each notebook:

* on opening, before anything runs: every solution cell is hidden (code and outputs) under a
  collapsed heading, and in 01 the committed film is a GIF image that has loaded;
* Run All, no error output; while later cells still run, the first control of the first live
  plot is moved (a widget message while the kernel is busy), and its plot is drawn;
* every control of every live plot is moved once, by the keyboard where it steps (a range by
  the Up arrow in its number box, a slider over chosen values by the Right arrow), toggle
  buttons and dropdowns by a click: after each move the plot's PNG changes, is not
  blank, and no traceback is shown;
* no uncaught JavaScript error on the page.

Screenshots of each notebook after the moves are written to pytest's temporary directory.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FILM = ROOT / "figures" / "sampling_film.gif"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
RUN_ALL_TIMEOUT = 240  # s per notebook (FAST mode runs in well under a minute)
REDRAW_TIMEOUT = 120  # s per move (a move may retrain a student)
CONTROLS = (":scope > .explore-range, :scope > .widget-slider, "
            ":scope > .widget-toggle-buttons, :scope > .widget-dropdown")  # a live plot's
BLANK = 0.995  # a plot with this fraction of (near-)white pixels or more is blank

# JavaScript run in the page (JupyterLab exposes its application as window.jupyterapp)
JS_CELLS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map(c => ({type: c.model.type, hidden: c.isHidden,
    tags: c.model.getMetadata('tags') || [], count: c.model.type === 'code' ?
      c.model.executionCount : null,
    errors: c.model.type === 'code' ? c.model.outputs.toJSON().filter(
      o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue) : []}));
}"""
JS_KERNEL = """() => {
  const s = window.jupyterapp.shell.currentWidget.sessionContext;
  return s && s.session && s.session.kernel ? s.session.kernel.status : 'none';
}"""
JS_PLOTS = """async () => {
  const boxes = [...document.querySelectorAll('.ideal-diffusion-explore')];
  const out = [];
  for (const box of boxes) {
    const img = box.querySelector('img');
    const status = box.querySelector('.widget-html-content');
    let white = 1, sig = '';
    if (img && img.complete && img.naturalWidth > 0) {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext('2d'); g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let w = 0, h = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245) w++;
        h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) | 0;
      }
      white = w / (d.length / 4); sig = c.width + 'x' + c.height + ':' + h;
    }
    out.push({white, sig, status: status ? status.textContent : '',
              text: box.innerText});
  }
  return out;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a temporary copy of the notebooks; yields its base URL."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)")
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "work"
    (work / "notebooks").mkdir(parents=True)
    for nb in NOTEBOOKS:
        shutil.copy(nb, work / "notebooks" / nb.name)
    (work / "figures").mkdir()
    shutil.copy(FILM, work / "figures" / FILM.name)  # the committed film links to it
    kernel = tmp / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (this interpreter)", "language": "python"}))
    settings = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    news = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(os.environ, JUPYTER_PATH=str(tmp / "jupyter"),
               JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "run"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               IDEAL_DIFFUSION_FAST="1", IDEAL_DIFFUSION_WIDGETS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
                   "PYTHONPATH")])))
    env.pop("MPLBACKEND", None)  # the kernel uses the inline backend, as for a student
    port = _free_port()
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--port-retries=0", "--IdentityProvider.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={work}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", "--allow-root"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp / "lab.log").read_text())
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless system chromium with a fresh profile (a persistent context in a temp dir)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


def _wait(page, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        page.wait_for_timeout(250)


def _run_all(page) -> list[dict]:
    """Run All, moving the first control of the first live plot while later cells still run
    (a widget message while the kernel is busy: the case that broke under ipykernel 7); return
    the cells once every cell has run (the command's promise resolves after the last
    execution) and the kernel is idle."""
    page.evaluate("() => { window.__runAll = window.jupyterapp.commands.execute("
                  "'notebook:run-all-cells'); }")
    box = page.locator(".ideal-diffusion-explore").first
    box.wait_for(state="attached", timeout=RUN_ALL_TIMEOUT * 1000)
    box.scroll_into_view_if_needed()
    _move(page, box, 0)
    page.evaluate("async () => { await window.__runAll; }")

    def finished():
        return page.evaluate(JS_CELLS) if page.evaluate(JS_KERNEL) == "idle" else None

    return _wait(page, finished, RUN_ALL_TIMEOUT, "the kernel to be idle after Run All")


def _move(page, box, k: int) -> str:
    """Move control ``k`` of a live plot once; return a description of the move."""
    control = box.locator(CONTROLS).nth(k)
    number = control.locator("input[type=number]")
    if number.count():  # a range: one keyboard step in its number box
        number.first.focus()
        page.keyboard.press("ArrowUp")
        page.keyboard.press("Enter")
        return "range +1 step (Up arrow in its number box)"
    handle = control.locator(".noUi-handle")
    if handle.count():  # a slider over chosen values: one keyboard step
        handle.first.focus()
        page.keyboard.press("ArrowRight")
        return "slider +1 step (Right arrow)"
    buttons = control.locator("button:not(.mod-active)")
    if buttons.count():
        label = buttons.first.inner_text()
        buttons.first.click()
        return f"toggle -> {label!r}"
    select = control.locator("select")
    options = select.locator("option").all_inner_texts()
    current = select.input_value()
    other = next(o for o in options if o != current)
    select.select_option(label=other)
    return f"dropdown -> {other!r}"


def _n_controls(box) -> int:
    return box.locator(CONTROLS).count()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_jupyterlab(path, lab, browser, tmp_path):
    page = browser.new_page()
    page_errors = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    try:
        page.goto(f"{lab}/lab/tree/notebooks/{path.name}?reset", wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell"
                               ".currentWidget && window.jupyterapp.shell.currentWidget.content"
                               " && window.jupyterapp.shell.currentWidget.content.widgets"
                               ".length > 0", timeout=60_000)
        _wait(page, lambda: page.evaluate(JS_KERNEL) == "idle", 60, "the kernel")
        page.wait_for_timeout(1000)  # let collapsed headings resolve

        # on opening: solutions hidden (code and output), the film a loaded GIF
        cells = page.evaluate(JS_CELLS)
        solutions = [c for c in cells if "solution" in c["tags"]]
        assert solutions, "no solution cells"
        assert all(c["hidden"] for c in solutions), "a solution cell is visible on opening"
        if path.stem.startswith("01"):
            gif = page.locator(f".jp-OutputArea-output img[src*='{FILM.name}']")
            assert gif.count() == 1, "the committed film is not the GIF"
            gif.scroll_into_view_if_needed()
            gif.wait_for(state="visible", timeout=30_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=gif.element_handle(), timeout=30_000)

        cells = _run_all(page)
        errors = [e for c in cells for e in c["errors"]]
        assert not errors, f"Run All raised: {errors}"
        assert all(c["hidden"] for c in cells if "solution" in c["tags"]), (
            "Run All opened a solution")

        boxes = page.locator(".ideal-diffusion-explore")
        n_plots = boxes.count()
        assert n_plots >= 1, "no live plot"
        plots = _wait(page, lambda: (lambda ps: ps if all(
            p["sig"] and p["status"] == "" for p in ps) else None)(page.evaluate(JS_PLOTS)),
            REDRAW_TIMEOUT, "the plots")
        for i, p in enumerate(plots):
            assert "Traceback" not in p["text"], f"plot {i} after Run All:\n{p['text']}"
            assert p["white"] < BLANK, f"plot {i} is blank after Run All"
        moves = []
        for i in range(n_plots):
            box = boxes.nth(i)
            box.scroll_into_view_if_needed()
            for k in range(_n_controls(box)):
                before = page.evaluate(JS_PLOTS)[i]
                what = _move(page, box, k)

                def redrawn(i=i, before=before):
                    now = page.evaluate(JS_PLOTS)[i]
                    if "Traceback" in now["text"] or now["status"] == "error":
                        return now
                    done = now["status"] == "" and now["sig"] and now["sig"] != before["sig"]
                    return now if done else None

                now = _wait(page, redrawn, REDRAW_TIMEOUT, f"plot {i} to redraw after {what}")
                assert "Traceback" not in now["text"], f"plot {i}, {what}:\n{now['text']}"
                assert now["white"] < BLANK, f"plot {i} is blank after {what}"
                moves.append(f"plot {i}: {what}")
        page.screenshot(path=str(tmp_path / f"{path.stem}.png"), full_page=False)
        assert len(moves) >= n_plots
        assert not page_errors, f"JavaScript errors: {page_errors}"
    finally:
        page.evaluate("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                      " && window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        page.close()
