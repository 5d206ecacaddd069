"""Teaching mode in a real browser: `gpu-runbook lab` serves a workspace of its own on loopback, and
Playwright drives JupyterLab in Debian's Chromium (headless). The preflight notebook is run, its Run checks
button clicked, the badges read; in the GPU step a CUDA image and then another GPU access mode are chosen
in the panel, the image is pulled from the loopback registry while the progress bars are watched, and the
results and the evidence below them follow; the overview's boxes and its link to the next step are
checked; a second workspace replays the committed H200 record through step 4. Two more workspaces are in
Chinese (`gpu-runbook lab --lang zh_CN`): JupyterLab's menus and the notebooks' narrative in Chinese, a
mode changed in the panel and run, the H200 replay. The repository's notebooks are left as they were.
Screenshots are saved."""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from runbook import i18n, record
from runbook.catalogue import ESSENTIAL, STEPS
from runbook.present.checklist import COLOURS
from runbook.present.lab import LANGUAGE_SETTINGS, SETTINGS
from tests.utils.engine import TEST_IMAGE
from tests.utils.registry import registry_only_image

pytestmark = [pytest.mark.browser, pytest.mark.engine]
REPO = Path(__file__).resolve().parents[2]
H200 = REPO / "records" / "h200-2026-11-29-toolkit"  # the H200 with the toolkit installed: every check passed
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("RUNBOOK_SCREENSHOTS", REPO / "build" / "screenshots"))
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# the words of JupyterLab's interface the tests click, in English and as its Chinese language pack has them
UI = {
    "en": {"run": "Run", "run_all": "Run All Cells", "select_kernel": "Select Kernel", "no": "No"},
    "zh_CN": {"run": "运行", "run_all": "运行所有单元格", "select_kernel": "选择内核", "no": "否"},
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _missing(what):
    if os.environ.get("RUNBOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} is missing (tests/run.sh installs it as root)")
    pytest.skip(f"{what} is missing")


def git_status() -> str:
    """What git sees changed or added in the notebooks and the package (screenshots may go to notebooks/img)."""
    paths = ["notebooks/*.ipynb", "runbook"]
    git = ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all", "--", *paths]
    return subprocess.run(git, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def shipped():
    """The repository's notebooks as they were before any browser test ran, and git's status of them."""
    return {p.name: p.read_bytes() for p in sorted((REPO / "notebooks").glob("*.ipynb"))} | {"git": git_status()}


def start_lab(root: Path, *lab_args: str, lang: str = "en"):
    """`gpu-runbook lab --lang LANG` serving the workspace root/class on a free loopback port, as a user
    starts it; its token and the rest of JupyterLab's settings come from JupyterLab's own configuration
    folder."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    config = root / "jupyter-config"
    config.mkdir()
    settings = {
        "ServerApp": {"token": token},
        "LabApp": {
            "workspaces_dir": str(root / "workspaces"),
            "user_settings_dir": str(root / "settings"),
            "news_url": "",
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        },
    }
    (config / "jupyter_server_config.json").write_text(json.dumps(settings))
    log = open(root / "lab.log", "w")
    command = [sys.executable, "-m", "runbook", "lab", str(root / "class"), *lab_args, "--lang", lang]
    proc = subprocess.Popen(
        [*command, "--ip=127.0.0.1", f"--port={port}", "--no-browser"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(config)},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start: " + (root / "lab.log").read_text()[-2000:])
    if proc.poll() is not None:
        pytest.fail(f"gpu-runbook lab exited {proc.returncode}: " + (root / "lab.log").read_text()[-2000:])
    return proc, {"base": base, "token": token, "root": root / "class", "log": root / "lab.log", "ui": UI[lang]}


def stop_lab(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def registry_image(client, registry):
    """An image only the loopback registry has, so that choosing it in step 3 pulls it with progress."""
    with registry_only_image(client, registry, "lab", 20) as ref:
        yield ref


@pytest.fixture(scope="module")
def lab(tmp_path_factory, shipped):
    proc, served = start_lab(tmp_path_factory.mktemp("lab"))
    yield served
    stop_lab(proc)


@pytest.fixture(scope="module")
def replay_lab(tmp_path_factory, shipped):
    proc, served = start_lab(tmp_path_factory.mktemp("replay"), "--replay", str(H200))
    yield served
    stop_lab(proc)


def cjk_fonts() -> None:
    """Chinese is drawn only with a CJK font installed (without one, the screenshots show boxes)."""
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True) if shutil.which("fc-list") else None
    if fonts is None or not fonts.stdout.strip():
        _missing("a CJK font (Debian's fonts-noto-cjk)")


@pytest.fixture(scope="module")
def zh_lab(tmp_path_factory, shipped):
    cjk_fonts()
    proc, served = start_lab(tmp_path_factory.mktemp("zh"), lang="zh_CN")
    yield served
    stop_lab(proc)


@pytest.fixture(scope="module")
def zh_replay_lab(tmp_path_factory, shipped):
    cjk_fonts()
    proc, served = start_lab(tmp_path_factory.mktemp("zh-replay"), "--replay", str(H200), lang="zh_CN")
    yield served
    stop_lab(proc)


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


def screenshot(page, file_name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / file_name))


def accept_kernel_dialog(page, ui) -> bool:
    """Answer JupyterLab's "Select Kernel" dialog as a user would (its preselected choice is the
    notebook's own kernel). It comes up when the kernel list is slow to arrive, as on a loaded machine,
    and until it is answered the queued cells wait with no kernel."""
    dialog = page.locator(".jp-Dialog").filter(has_text=ui["select_kernel"])
    if not dialog.count():
        return False
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    return True


def settle_kernel(page, name, ui, quiet_s=3.0, timeout_s=120.0):
    """Wait until the notebook's kernel has been idle, with no dialog open, for quiet_s in a row. Cells run
    before then can be split between two kernels (the one started first and the one chosen in the
    dialog), and a cell then fails on a name the other kernel defined."""
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    quiet_since, deadline = None, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if accept_kernel_dialog(page, ui) or page.locator(".jp-Dialog").count() or not idle.count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(250)
    screenshot(page, f"unsettled-{name}.png")
    pytest.fail(f"the kernel of {name} did not settle in {timeout_s:.0f} s (screenshot in {SHOTS})")


def open_and_run_all(page, lab, name):
    """Open a notebook (the only tab: each opens in a fresh workspace) and run all its cells; returns the
    visible notebook panel, to which every look is confined, once a cell has been executed by a kernel."""
    page.goto(f"{lab['base']}/lab/workspaces/{name.split('.')[0]}/tree/{name}?reset&token={lab['token']}")
    panel = page.locator(".jp-NotebookPanel:visible")
    try:
        panel.locator(".jp-Notebook").wait_for(timeout=60_000)
    except Exception:
        screenshot(page, f"failed-{name}.png")
        raise
    executed = panel.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]"))
    # Run All can be dropped when it comes before the notebook's kernel session is attached (seen on a
    # fresh machine): wait for a settled kernel, then ask until a cell has been executed, three times.
    for attempt in range(3):
        settle_kernel(page, name, lab["ui"])
        no_news = page.get_by_role("button", name=lab["ui"]["no"], exact=True)
        if no_news.count():
            no_news.first.click()
        page.get_by_role("menuitem", name=lab["ui"]["run"], exact=True).click()
        page.get_by_role("menuitem", name=lab["ui"]["run_all"], exact=True).click()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if executed.count():
                return panel
            page.wait_for_timeout(500)
        screenshot(page, f"not-started-{attempt}-{name}.png")
    pytest.fail(f"Run All Cells did not run a cell of {name} in three tries (screenshots in {SHOTS})")


def wait_for_output(page, panel, text, timeout_ms, name):
    """Wait for a widget's text in the notebook's outputs; when it does not come, fail with a screenshot
    and what the outputs show instead (a widget that did not render says so there)."""
    try:
        panel.locator(".widget-html-content", has_text=text).wait_for(timeout=timeout_ms)
    except Exception:
        screenshot(page, f"no-output-{name}.png")
        outputs = "\n".join(panel.locator(".jp-OutputArea-output").all_inner_texts())
        pytest.fail(
            f"{text!r} did not appear in {name} within {timeout_ms / 1000:.0f} s; the outputs show:\n{outputs[-3000:]}"
        )


def statuses(nb) -> dict[str, str]:
    """The results table as shown: each check's id and the status of its badge (the badge's words are
    the reader's language; its data-status is the record's)."""
    rows = nb.locator("table.rb-checks").first.locator("tr:has(td)")
    return {
        (row.locator("code").first.text_content() or "").strip(): row.locator(".rb-badge").first.get_attribute(
            "data-status"
        )
        for row in rows.all()
    }


def output_of(nb, code: str) -> str:
    """The text the code cell holding ``code`` shows now (scrolled to: JupyterLab draws only the cells in
    view, and a long panel above pushes this one out)."""
    cell = nb.locator(".jp-CodeCell", has_text=code)
    cell.scroll_into_view_if_needed()
    output = cell.locator(".jp-OutputArea-output").first
    output.wait_for(timeout=15_000)
    for _ in range(30):  # drawn a moment after it scrolls into view
        text = output.inner_text()
        if text.strip():
            return text
        nb.page.wait_for_timeout(500)
    return text


def save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1000)


def test_the_lab_command_says_what_it_did_and_what_root_needs(lab):
    said = lab["log"].read_text()
    assert f"workspace: {lab['root']}: 7 notebooks copied" in said, said[:2000]
    root_line = "JupyterLab is started with --allow-root" in said
    assert root_line == (os.geteuid() == 0), f"root: {os.geteuid() == 0}, said so: {root_line}"


# step 1's checks: host.os, host.pci_gpus, host.driver, host.gpu_selection, host.mig, host.topology, the eight
# health.* checks, network.registries, engine.reachable, engine.access, host.disk
PREFLIGHT_CHECKS = 18


def test_preflight_panel_badges_and_the_run_checks_button(page, lab):
    nb = open_and_run_all(page, lab, "01-preflight.ipynb")
    wait_for_output(page, nb, "run 1:", 120_000, "01-preflight")
    badges = nb.locator("table.rb-checks .rb-badge")
    badges.first.wait_for(timeout=60_000)
    texts = badges.all_text_contents()
    assert len(texts) == PREFLIGHT_CHECKS, texts
    assert {t.strip().lower() for t in texts} <= {"pass", "fail", "warn", "skip"}
    table = nb.locator("table.rb-checks").first.text_content() or ""
    assert "engine.reachable" in table and "host.driver" in table
    if not Path("/dev/nvidiactl").exists():
        assert "no NVIDIA driver/GPU found" in table and "Fix:" in table
    nb.get_by_role("button", name="Run checks").scroll_into_view_if_needed()
    page.mouse.wheel(0, -200)
    page.wait_for_timeout(300)
    screenshot(page, "preflight.png")
    nb.get_by_role("button", name="Run checks").click()
    wait_for_output(page, nb, "run 2:", 120_000, "01-preflight")
    assert nb.locator("table.rb-checks").count() == 1, "the results are updated in place, not appended"
    assert len(nb.locator("table.rb-checks .rb-badge").all_text_contents()) == PREFLIGHT_CHECKS
    save(page)


def test_an_image_chosen_in_the_panel_is_pulled_with_progress_bars(page, lab, registry_image):
    nb = open_and_run_all(page, lab, "03-gpu-in-container.ipynb")
    wait_for_output(page, nb, "run 1:", 120_000, "03-gpu-in-container")
    nb.locator(".widget-text", has_text="cuda_image").locator("input").fill(registry_image)
    nb.get_by_role("button", name="Run checks").click()
    wait_for_output(page, nb, "layers done", 180_000, "03-gpu-in-container")
    wait_for_output(page, nb, "Downloaded newer image", 180_000, "03-gpu-in-container")
    assert nb.locator(".widget-hprogress").count() >= 1, "a progress bar per downloaded layer"
    wait_for_output(page, nb, "run 2:", 120_000, "03-gpu-in-container")
    table = nb.locator("table.rb-checks").first.text_content() or ""
    assert "cuda.pull" in table and registry_image in table, table[:2000]


def test_a_mode_chosen_in_the_panel_is_what_run_checks_runs_and_the_evidence_follows(page, lab):
    nb = page.locator(".jp-NotebookPanel:visible")  # the GPU step, left open by the test before
    before = output_of(nb, "show_evidence")
    nb.locator(".widget-dropdown", has_text="gpu_mode").locator("select").select_option("runtime")
    nb.get_by_role("button", name="Run checks").click()
    wait_for_output(page, nb, "run 3:", 120_000, "03-gpu-in-container")
    assert "gpu_mode=runtime" in (nb.locator(".widget-html-content", has_text="run 3:").text_content() or "")
    shown = statuses(nb)
    assert "gpu.mode.gpus" in shown, f"--gpus is now tried as another mode: {shown}"
    assert "gpu.mode.runtime" not in shown, f"runtime is the chosen mode, not another: {shown}"
    assert "gpu.nvidia_smi" in shown, shown
    after = output_of(nb, "show_evidence")
    assert after != before, f"the evidence cell still shows the run before:\n{after}"
    save(page)
    saved, _ = record.notebook_checks(lab["root"] / "03-gpu-in-container.ipynb")
    smi = next(c for c in saved if c.id == "gpu.nvidia_smi")
    assert smi.data["mode"] == "runtime", f"the saved results are of gpu_mode={smi.data['mode']}"
    expected = smi.evidence.strip() or smi.detail
    assert expected in after, f"the evidence cell shows:\n{after}\nthe run's gpu.nvidia_smi:\n{expected}"
    nb.get_by_role("button", name="Run checks").scroll_into_view_if_needed()
    page.mouse.wheel(0, -150)
    page.wait_for_timeout(300)
    screenshot(page, "gpu-mode.png")


def box_states(nb) -> list[str]:
    """Each overview box's state as the record has it ('' for a step not run yet)."""
    return [s.get_attribute("data-status") or "" for s in nb.locator("a.rb-step .rb-state").all()]


def boxes(nb) -> list[dict]:
    """The overview's boxes as shown: the notebook each opens, and its text."""
    links = nb.locator("a.rb-step")
    return [{"href": a.get_attribute("href") or "", "text": a.inner_text()} for a in links.all()]


def test_the_overview_boxes_name_the_first_failing_check_and_link_the_notebooks(page, lab):
    nb = open_and_run_all(page, lab, "00-overview.ipynb")
    nb.locator("a.rb-step").first.wait_for(timeout=60_000)
    shown = boxes(nb)
    steps = [f"{s}.ipynb" for s in STEPS]
    assert [b["href"].split("?")[0].rsplit("/", 1)[-1] for b in shown] == steps, shown
    assert sum("not run yet" in b["text"] for b in shown) == 4, shown  # 01 and 03 ran (and were saved) before
    firsts = record.first_problems(record.collect(lab["root"]))
    for step, box in zip(STEPS, shown, strict=True):
        if step in firsts:
            assert firsts[step].id in box["text"], f"{step}: expected {firsts[step].id} in its box, got {box['text']!r}"
    screenshot(page, "overview.png")
    nb.locator("a.rb-next-link").click()
    tab = page.locator(".lm-TabBar-tab", has_text="01-preflight.ipynb")
    tab.first.wait_for(timeout=30_000)
    assert tab.count() >= 1, "the next step's link did not open its notebook"


REPLAYED = ("01-preflight", "02-container-toolkit", "03-gpu-in-container", "04-pytorch-in-container")


@pytest.mark.parametrize("stem", REPLAYED)
def test_the_h200_replay_shows_the_records_checks_as_replayed(page, replay_lab, stem):
    recorded = {
        c.id: c.status.value for c in record.checks_by_step(json.loads((H200 / "summary.json").read_text()))[stem]
    }
    nb = open_and_run_all(page, replay_lab, f"{stem}.ipynb")
    wait_for_output(page, nb, "run 1:", 120_000, stem)
    banner = banner_of(nb)
    assert "Replay of the record h200-2026-11-29-toolkit" in banner, banner
    wait_for_results(page, nb, stem)  # the run's line can come a moment before its table
    shown = statuses(nb)
    assert shown == recorded, f"expected the record's {recorded}, shown {shown}"
    for check_id in ESSENTIAL.get(stem, ()):
        assert shown[check_id] == "pass", f"{check_id}: expected pass, shown {shown[check_id]}"
    table = nb.locator("table.rb-checks").first.text_content() or ""
    assert table.count("replayed from vm, 2026-11-29") == len(recorded), table[:2000]
    if stem == "03-gpu-in-container":
        assert "NVIDIA H200" in output_of(nb, "show_evidence"), "the H200's nvidia-smi is not shown"
        nb.locator(".rb-replay").first.scroll_into_view_if_needed()
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(300)
        screenshot(page, "replay-gpu.png")
    if stem == "04-pytorch-in-container":
        assert "torch.cuda.is_available(): True" in output_of(nb, "show_torch"), "what PyTorch saw is not shown"
    save(page)


def test_the_overview_of_the_h200_replay(page, replay_lab):
    nb = open_and_run_all(page, replay_lab, "00-overview.ipynb")
    nb.locator("a.rb-step").first.wait_for(timeout=60_000)
    banner = banner_of(nb)
    assert banner.startswith("Replayed from the record h200-2026-11-29-toolkit (vm, 2026-11-29)"), banner
    states = box_states(nb)
    assert states[:4] == ["pass"] * 4, f"the H200 passed steps 1 to 4; the boxes show {states}"
    screenshot(page, "replay-overview.png")


def statuses_by_colour(nb) -> dict[str, str]:
    """The results table as shown, in any language: each check's id and its badge's status, read from the
    badge's colour."""
    by_colour = {colour: status.value for status, colour in COLOURS.items()}
    rows = nb.locator("table.rb-checks").first.locator("tr:has(td)")
    shown = {}
    for row in rows.all():
        style = row.locator(".rb-badge").first.get_attribute("style") or ""
        colour = re.search(r"#[0-9a-fA-F]{6}", style)
        shown[(row.locator("code").first.text_content() or "").strip()] = by_colour.get(
            colour and colour.group(0), style
        )
    return shown


def wait_for_results(page, nb, name, timeout_ms=120_000) -> None:
    try:
        nb.locator("table.rb-checks .rb-badge").first.wait_for(timeout=timeout_ms)
    except Exception:
        screenshot(page, f"no-results-{name}.png")
        raise


def banner_of(nb) -> str:
    """A replay's banner as the page holds it: its text also when the cell is scrolled out of view and
    JupyterLab does not draw it (then its rendered text, innerText, is empty)."""
    shown = nb.locator(".rb-replay").first
    shown.wait_for(state="attached", timeout=30_000)
    return (shown.text_content() or "").strip()


def narrative(nb) -> str:
    """The notebook's first markdown cell (its title and introduction) as JupyterLab rendered it (its text
    in the page, also when it is scrolled out of view and not drawn)."""
    shown = nb.locator(".jp-MarkdownCell .jp-RenderedMarkdown").first
    shown.locator("h1").wait_for(state="attached", timeout=30_000)
    return (shown.text_content() or "").strip()


def test_in_chinese_jupyterlabs_menus_and_the_narrative_are_chinese(page, zh_lab):
    chosen = json.loads((zh_lab["root"] / SETTINGS / LANGUAGE_SETTINGS).read_text())
    assert chosen == {"locale": "zh_CN"}, f"the workspace's JupyterLab settings: {chosen}"
    nb = open_and_run_all(page, zh_lab, "01-preflight.ipynb")
    menus = [m.strip() for m in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]
    assert {"文件", "编辑", "运行", "内核"} <= set(menus), f"JupyterLab's menus: {menus}"
    assert "File" not in menus, f"JupyterLab's menus: {menus}"
    assert narrative(nb).startswith("1. 预检：这台主机准备好了吗？"), narrative(nb)[:200]
    wait_for_results(page, nb, "01-preflight")
    shown = statuses_by_colour(nb)
    assert len(shown) == PREFLIGHT_CHECKS and {"engine.reachable", "host.driver"} <= shown.keys(), shown
    assert set(shown.values()) <= {"pass", "fail", "warn", "skip"}, shown
    nb.locator("button.widget-button").first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -200)
    page.wait_for_timeout(300)
    screenshot(page, "preflight-zh.png")


RUNBOOK_ZH = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "runbook.mo"


@pytest.mark.skipif(not RUNBOOK_ZH.exists(), reason=f"the runbook's messages have no zh_CN catalogue ({RUNBOOK_ZH})")
def test_in_chinese_a_steps_badges_and_its_cause_and_fix_are_chinese(page, zh_lab):
    nb = page.locator(".jp-NotebookPanel:visible")  # the preflight step, left open by the test before
    badges = [b.strip() for b in nb.locator("table.rb-checks .rb-badge").all_text_contents()]
    assert badges and all(CJK.search(b) for b in badges), f"badges not in Chinese: {badges}"
    fixes = nb.locator("table.rb-checks .rb-fix").all_text_contents()
    if not Path("/dev/nvidiactl").exists():
        assert fixes, "host.driver fails on a host without a driver, with its cause and fix"
    for fix in fixes:
        assert CJK.search(fix) and not fix.startswith(("Cause:", "Fix:")), f"cause or fix not in Chinese: {fix}"


def test_in_chinese_a_mode_chosen_in_the_panel_is_what_run_checks_runs(page, zh_lab, client):
    nb = open_and_run_all(page, zh_lab, "03-gpu-in-container.ipynb")
    assert narrative(nb).startswith("3. 容器里的 GPU"), narrative(nb)[:200]
    wait_for_output(page, nb, "gpu_mode=gpus", 120_000, "03-gpu-in-container")  # the panel names what it ran
    nb.locator(".widget-text", has_text="cuda_image").locator("input").fill(TEST_IMAGE)  # here: no driver to choose for
    nb.locator(".widget-dropdown", has_text="gpu_mode").locator("select").select_option("runtime")
    nb.locator("button.widget-button").first.click()  # Run checks, whatever its label's language
    wait_for_output(page, nb, "gpu_mode=runtime", 120_000, "03-gpu-in-container")
    shown = statuses_by_colour(nb)
    assert "gpu.mode.gpus" in shown, f"--gpus is now tried as another mode: {shown}"
    assert "gpu.mode.runtime" not in shown, f"runtime is the chosen mode, not another: {shown}"
    assert "gpu.nvidia_smi" in shown, shown
    nb.locator("button.widget-button").first.scroll_into_view_if_needed()
    page.mouse.wheel(0, -150)
    page.wait_for_timeout(300)
    screenshot(page, "gpu-mode-zh.png")


@pytest.mark.parametrize("stem", REPLAYED)
def test_in_chinese_the_h200_replay_is_the_records_run(page, zh_replay_lab, stem):
    recorded = {
        c.id: c.status.value for c in record.checks_by_step(json.loads((H200 / "summary.json").read_text()))[stem]
    }
    nb = open_and_run_all(page, zh_replay_lab, f"{stem}.ipynb")
    assert CJK.search(narrative(nb)), f"{stem}: {narrative(nb)[:200]}"
    wait_for_results(page, nb, stem)
    banner = banner_of(nb)
    assert "h200-2026-11-29-toolkit" in banner, banner
    shown = statuses_by_colour(nb)
    assert shown == recorded, f"expected the record's {recorded}, shown {shown}"
    for check_id in ESSENTIAL.get(stem, ()):
        assert shown[check_id] == "pass", f"{check_id}: expected pass, shown {shown[check_id]}"
    if stem == "03-gpu-in-container":
        assert "NVIDIA H200" in output_of(nb, "show_evidence"), "the H200's nvidia-smi is not shown"
        nb.locator(".rb-replay").first.scroll_into_view_if_needed()
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(300)
        screenshot(page, "replay-gpu-zh.png")
    save(page)


def test_in_chinese_the_overview_of_the_h200_replay(page, zh_replay_lab):
    nb = open_and_run_all(page, zh_replay_lab, "00-overview.ipynb")
    nb.locator("a.rb-step").first.wait_for(timeout=60_000)
    assert narrative(nb).startswith("GPU 操作手册"), narrative(nb)[:200]
    states = box_states(nb)
    assert states[:4] == ["pass"] * 4, f"the H200 passed steps 1 to 4; the boxes show {states}"
    shown = [b["text"] for b in boxes(nb)]
    assert all(CJK.search(b) for b in shown[:4]), f"the boxes' titles and states are not in Chinese: {shown}"
    screenshot(page, "replay-overview-zh.png")


def test_the_repositorys_notebooks_are_unchanged(shipped):
    now = {p.name: p.read_bytes() for p in sorted((REPO / "notebooks").glob("*.ipynb"))} | {"git": git_status()}
    changed = sorted(name for name in shipped.keys() | now.keys() if shipped.get(name) != now.get(name))
    assert changed == [], f"the browser tests changed the repository's notebooks: {changed}\n{now['git']}"
