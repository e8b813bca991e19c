"""The HTML review page of `extractor diff`, driven in headless Chromium (marker `browser`).

Needs the Debian packages `chromium` and `chromium-driver` (or any Chromium /
chromedriver pair on PATH, or CHROMIUM_BINARY / CHROMEDRIVER) and the Python
package `selenium`; skipped with the reason when one is missing.

The main test renders the diff of the two committed runs of the seeds
(`evals/runs/seeds-claims-v2` and `-v4`, real runs of the embedded model) and checks the
page against the diff JSON of the same runs. A screenshot goes to tmp_path
and, when EXTRACTOR_SCREENSHOT_DIR is set, there too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from extractor.articles import text_sha256
from extractor.cli import cli
from extractor.schema import ArticleExtraction, Claim, Span

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
RUN_A = ROOT / "evals" / "runs" / "seeds-claims-v2"
RUN_B = ROOT / "evals" / "runs" / "seeds-claims-v4"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
)


def find_browser() -> tuple[str, str]:
    """(chromium binary, chromedriver) or a pytest skip naming what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    binary = os.environ.get("CHROMIUM_BINARY") or next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not binary:
        pytest.skip("no Chromium binary (apt-get install chromium, or set CHROMIUM_BINARY)")
    if not driver:
        pytest.skip("no chromedriver (apt-get install chromium-driver, or set CHROMEDRIVER)")
    return binary, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    binary, driver_path = find_browser()
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except WebDriverException as exc:
        pytest.skip(f"Chromium did not start: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.05)


def diff_to_html(run_a: Path, run_b: Path, out: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["diff", str(run_a), str(run_b), "--json", "--html", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def page_blob(html_path: Path) -> dict[str, Any]:
    """The JSON blob the page embeds (what its script renders)."""
    match = re.search(r'<script type="application/json" id="diff-data">(.*?)</script>', html_path.read_text(encoding="utf-8"), re.S)
    assert match
    return json.loads(match.group(1))


def visible_rows(driver: Any) -> int:
    return int(driver.execute_script(
        "return Array.from(document.querySelectorAll('tr.claim-row')).filter(function (r) { return r.offsetParent !== null; }).length;"
    ))


def severe_console_entries(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def save_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    target = os.environ.get("EXTRACTOR_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def test_review_page_of_the_seed_runs(browser: Any, tmp_path: Path) -> None:
    if not (RUN_A / "extractions.jsonl").exists() or not (RUN_B / "extractions.jsonl").exists():
        pytest.skip(f"the seed runs are not there ({RUN_A.name}, {RUN_B.name} under evals/runs)")
    report = tmp_path / "report.html"
    document = diff_to_html(RUN_A, RUN_B, report, "--gold", str(ROOT / "evals" / "gold"))
    summary = document["summary"]
    rows = [row for article in document["articles"] for row in article["claims"]]
    assert len(rows) == sum(summary[s] for s in ("unchanged", "changed", "added", "removed"))

    browser.get(report.as_uri())
    wait_for(browser, "return document.body.dataset.ready === 'true';")

    # Header counts are the diff's.
    for status in ("unchanged", "changed", "added", "removed"):
        assert browser.find_element("id", f"count-{status}").text == str(summary[status])
    assert browser.find_element("id", "gold-lost").text == str(summary["gold_lost"])
    metric_rows = browser.find_elements("css selector", "#metrics tbody tr")
    assert len(metric_rows) == len(document["metrics"]["overall"])

    # One collapsed <details> per article, badges with the article's counts, nothing rendered yet.
    details = browser.find_elements("css selector", "details.article")
    assert [d.get_attribute("data-article") for d in details] == [a["article_id"] for a in document["articles"]]
    assert browser.execute_script("return document.querySelectorAll('tr.claim-row').length;") == 0
    for element, article in zip(details, document["articles"], strict=True):
        badges = {b.get_attribute("data-status"): int(b.get_attribute("data-count")) for b in element.find_elements("css selector", "summary .badge[data-status]")}
        assert badges == {s: n for s, n in article["counts"].items() if n}

    # Opening one article renders its rows and its highlighted text.
    first = document["articles"][0]
    details[0].find_element("tag name", "summary").click()
    wait_for(browser, "return document.querySelectorAll('details.article[open] tr.claim-row').length > 0;")
    assert len(details[0].find_elements("css selector", "tr.claim-row")) == len(first["claims"])
    spans = {tuple(s) for row in first["claims"] for s in (row["a_span"], row["b_span"]) if s}
    if spans:
        marks = details[0].find_elements("css selector", ".article-text mark.hl")
        assert marks, "evidence is highlighted in the article text"
        statuses = {row["status"] for row in first["claims"] if row["a_span"] or row["b_span"]}
        assert {m.get_attribute("class").split()[1].removeprefix("hl-") for m in marks} <= statuses
    changed = [row for row in first["claims"] if row["status"] == "changed"]
    if changed:
        emphasised = details[0].find_elements("css selector", "tr.st-changed .f.chg")
        assert len(emphasised) == 2 * sum(len(row["changed"]) for row in changed)

    # Expand everything: one row per claim row of the diff.
    browser.find_element("id", "expand-all").click()
    wait_for(browser, f"return document.querySelectorAll('tr.claim-row').length === {len(rows)};")
    assert visible_rows(browser) == len(rows)

    # "only changes" hides exactly the unchanged rows.
    browser.find_element("id", "only-changed").click()
    expected = len(rows) - summary["unchanged"]
    wait_for(browser, f"return document.getElementById('visible-rows').dataset.visible === '{expected}';")
    assert visible_rows(browser) == expected
    assert expected != len(rows) or summary["unchanged"] == 0

    # Stance filter (with "only changes" still on): rows where either side has that stance.
    from selenium.webdriver.support.ui import Select

    stance_select = Select(browser.find_element("id", "stance-filter"))
    stance_select.select_by_value("oppose")
    expected_stance = sum(
        1 for row in rows
        if row["status"] != "unchanged" and "oppose" in {(row["a"] or {}).get("stance"), (row["b"] or {}).get("stance")}
    )
    assert visible_rows(browser) == expected_stance

    # Speaker filter: the page's own speaker entities, each row tagged in the embedded data.
    stance_select.select_by_value("")
    browser.find_element("id", "only-changed").click()
    blob = page_blob(report)
    if blob["speakers"]:
        speaker = max(blob["speakers"], key=lambda s: s["count"])
        Select(browser.find_element("id", "speaker-filter")).select_by_value(str(speaker["id"]))
        expected_speaker = sum(1 for a in blob["articles"] for row in a["claims"] if speaker["id"] in row["speaker_ids"])
        assert 0 < visible_rows(browser) == expected_speaker <= len(rows)
        Select(browser.find_element("id", "speaker-filter")).select_by_value("")
    assert visible_rows(browser) == len(rows)

    # Back to the review state for the screenshot: only changes, the first article with changes open.
    browser.find_element("id", "collapse-all").click()
    browser.find_element("id", "only-changed").click()
    browser.execute_script(
        "var d = document.querySelector('details.article:not([hidden])'); if (d) { d.open = true; } window.scrollTo(0, 0);"
    )
    time.sleep(0.3)
    assert severe_console_entries(browser) == []
    shot = save_screenshot(browser, tmp_path, "diff-review.png")
    assert shot.stat().st_size > 10_000


# --- untrusted text and scale, on constructed runs -------------------------------------

HOSTILE = (
    'Opening. </script><script>window.__pwned = 1;</script> <img src=x onerror="window.__pwned = 2"> '
    '<!-- "Minister Karl Olsen said the budget is sound," a spokesman said. & more &amp; text.'
)


def write_run(path: Path, articles: dict[str, str], claims: dict[str, list[tuple[str, str, str]]], prompt: str) -> Path:
    path.mkdir(parents=True)
    lines = []
    for article_id, text in articles.items():
        grounded = []
        for speaker, stance, evidence in claims.get(article_id, []):
            start = text.find(evidence)
            assert start >= 0, evidence
            grounded.append(Claim(
                speaker=speaker, speaker_type="person", target="the budget", claim=f"{speaker} said it.", stance=stance,
                attribution="direct", evidence=evidence, evidence_span=Span(start=start, end=start + len(evidence)), grounding="exact",
            ))
        record = ArticleExtraction(article_id=article_id, article_sha256=text_sha256(text), claims=grounded, prompt=prompt, model="test")
        lines.append(record.model_dump_json() + "\n")
    (path / "extractions.jsonl").write_text("".join(lines), encoding="utf-8")
    (path / "manifest.json").write_text(json.dumps({"run_id": path.name, "inputs": [str(path.parent / "articles")]}), encoding="utf-8")
    return path


def test_hostile_article_text_is_shown_as_text(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "evil.txt").write_text(HOSTILE, encoding="utf-8")
    a = write_run(tmp_path / "a", {"evil": HOSTILE}, {"evil": [("Karl Olsen <b>x</b>", "support", "Minister Karl Olsen said the budget is sound")]}, "p@v1")
    b = write_run(tmp_path / "b", {"evil": HOSTILE}, {"evil": [("Karl Olsen <b>x</b>", "oppose", "</script><script>window.__pwned = 1;</script>")]}, "p@v2")
    report = tmp_path / "evil.html"
    diff_to_html(a, b, report)
    assert "</script><script>window.__pwned" not in report.read_text(encoding="utf-8")
    browser.get(report.as_uri())
    wait_for(browser, "return document.body.dataset.ready === 'true';")
    browser.find_element("id", "expand-all").click()
    wait_for(browser, "return document.querySelectorAll('tr.claim-row').length === 2;")
    assert browser.execute_script("return window.__pwned === undefined;")
    assert browser.find_elements("css selector", ".article-text img, .article-text script, td b") == []
    shown = browser.find_element("css selector", ".article-text").text
    assert "<img src=x onerror=" in shown and "</script><script>" in shown
    assert severe_console_entries(browser) == []


def test_page_stays_usable_with_100_articles_and_2000_claims(browser: Any, tmp_path: Path) -> None:
    sentence = "Minister {name} said the budget for region {i} is {word}. "
    articles, claims_a, claims_b = {}, {}, {}
    for n in range(100):
        text = "".join(sentence.format(name=f"Person{k}", i=n, word="sound" if k % 3 else "weak") for k in range(20))
        article_id = f"a{n:03d}"
        articles[article_id] = text
        evidences = [f"Minister Person{k} said the budget for region {n} is {'sound' if k % 3 else 'weak'}" for k in range(20)]
        claims_a[article_id] = [(f"Person{k}", "support", e) for k, e in enumerate(evidences)]
        claims_b[article_id] = [(f"Person{k}", "oppose" if k % 4 == 0 else "support", e) for k, e in enumerate(evidences) if k != 7]
    (tmp_path / "articles").mkdir()
    for article_id, text in articles.items():
        (tmp_path / "articles" / f"{article_id}.txt").write_text(text, encoding="utf-8")
    a = write_run(tmp_path / "a", articles, claims_a, "p@v1")
    b = write_run(tmp_path / "b", articles, claims_b, "p@v2")
    report = tmp_path / "big.html"
    document = diff_to_html(a, b, report)
    assert document["summary"]["changed"] == 500 and document["summary"]["removed"] == 100
    started = time.monotonic()
    browser.get(report.as_uri())
    wait_for(browser, "return document.body.dataset.ready === 'true';")
    load_seconds = time.monotonic() - started
    assert len(browser.find_elements("css selector", "details.article")) == 100
    assert browser.execute_script("return document.querySelectorAll('tr.claim-row').length;") == 0, "rows render lazily"
    started = time.monotonic()
    browser.find_element("id", "only-changed").click()
    wait_for(browser, "return document.getElementById('visible-rows').dataset.visible === '600';")
    browser.find_element("id", "expand-all").click()
    wait_for(browser, "return document.querySelectorAll('tr.claim-row').length === 2000;")
    assert visible_rows(browser) == 600
    interact_seconds = time.monotonic() - started
    assert load_seconds < 10 and interact_seconds < 20, (load_seconds, interact_seconds)
    assert severe_console_entries(browser) == []
