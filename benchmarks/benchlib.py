"""Shared helpers for the benchmark scripts: machine line, statistics, synthetic news.

Not a test module. Every benchmark script prints a human-readable report and,
with `--json FILE`, writes its results as JSON (which `run_all.py` collects).

The synthetic articles are deterministic (seeded): a title line carrying the
article number (`report 00042`), then paragraphs that each hold one line of
journalist narration (no reporting verb, no quote, so passage detection skips
it) and one attributed sentence (a direct quote, a reported "said that", or
"according to"). The fake models recover the article number from the title
that every prompt carries and answer from a precomputed table, so answering
costs a dictionary lookup.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractor.llm import Completion, CompletionRequest, Provider

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# --- machine and statistics --------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "mem_gib": mem_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": load_average(),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"nproc={m['nproc']} | CPU {m['cpu']} | {m['mem_gib']} GiB RAM | Python {m['python']}"
        f" | {m['platform']} | load average {m['load_average']}"
    )


def print_machine() -> None:
    print(f"machine: {machine_line()}")


def summarize(samples: list[float]) -> dict[str, Any]:
    """Median and spread of repeated measurements."""
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "samples": [round(s, 6) for s in samples],
    }


def fmt_spread(stats: dict[str, Any], unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
    med, lo, hi = stats["median"] * scale, stats["min"] * scale, stats["max"] * scale
    return f"median {med:.{digits}f} {unit} (min {lo:.{digits}f}, max {hi:.{digits}f}, n={stats['n']})"


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def write_json(path: str | None, document: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def isolate_environment() -> None:
    """Keep benchmarks away from the user's cache, keys and model choice."""
    os.environ.pop("OPENAI_API_KEY", None)
    os.environ.pop("EXTRACTOR_MODEL", None)
    os.environ.pop("OPENAI_BASE_URL", None)
    os.environ["CI"] = "1"  # no progress bar in CLI subprocesses
    # `extractor extract` indexes each finished run into a SQLite store: keep
    # that work (it is part of a real run) but away from the user's database.
    if os.environ.get("EXTRACTOR_DB", "").lower() != "off":
        import atexit
        import shutil
        import tempfile

        db_dir = tempfile.mkdtemp(prefix="bench-db-")
        atexit.register(shutil.rmtree, db_dir, ignore_errors=True)
        os.environ["EXTRACTOR_DB"] = str(Path(db_dir) / "runs.db")


# --- synthetic news -----------------------------------------------------------------

FIRST = ["Anna", "Pedro", "Mei", "Olusegun", "Katarzyna", "Tomas", "Leila", "Hiroshi", "Ingrid", "Rafael",
         "Amara", "Dmitri", "Sofia", "Kwame", "Elena", "Jonas", "Priya", "Mateo", "Hana", "Viktor"]
LAST = ["Berg", "Alvarez", "Chen", "Adeyemi", "Nowak", "Lindqvist", "Haddad", "Tanaka", "Solberg", "Moreno",
        "Okafor", "Volkov", "Rossi", "Mensah", "Petrova", "Keller", "Raman", "Silva", "Kimura", "Horvath"]
ROLES = ["finance minister", "opposition leader", "union spokeswoman", "city mayor", "central bank governor",
         "party chairman", "health secretary", "trade envoy", "council leader", "energy regulator"]
ORGS = ["the Transport Agency", "the Chamber of Commerce", "the National Audit Office", "the Teachers Union",
        "the Port Authority", "the Statistics Bureau", "the Green Alliance", "the Farmers Federation"]
TOPICS = ["the rail tunnel", "the fuel tax", "the port expansion", "the school budget", "the wind farm",
          "the housing levy", "the water reform", "the border checks", "the pension bill", "the airport runway"]
STANCE_WORDS = {
    "support": ["is the right decision for the region", "will bring jobs and investment to every town",
                "deserves the full backing of parliament", "is a welcome step after years of delay",
                "shows that the government listens to voters", "will make daily life easier for commuters",
                "is exactly what our members asked for", "puts the country ahead of its neighbours"],
    "oppose": ["is a costly mistake that families cannot afford", "will damage the coast for a generation",
               "was rushed through without a proper debate", "must be scrapped before the next session",
               "ignores the warnings of independent engineers", "hands a windfall to a few large firms",
               "breaks a promise made during the campaign", "leaves rural districts paying the bill"],
    "neutral": ["will be reviewed by the committee next month", "depends on figures that are not yet final",
                "is one of several options on the table", "will be decided after the consultation ends",
                "has been sent to the legal advisers for an opinion", "will take at least four years to build"],
    "mixed": ["has merits but the timetable is unrealistic", "could help exporters while hurting small farms",
              "is a good idea that arrives far too late", "solves one problem and creates another"],
}
CONDITIONS = ["until the audit is published", "if the funding is confirmed", "unless the courts intervene",
              "once the consultation ends"]
NARRATION = [
    "The committee met for four hours on Tuesday in the old assembly hall near the river.",
    "Traffic on the main road was slowed for most of the morning by roadworks and a broken signal.",
    "Officials handed out printed copies of the draft plan to the visitors in the public gallery.",
    "The proposal has been in preparation for almost two years and has gone through several drafts.",
    "Local businesses along the waterfront closed early as the crowd gathered outside the building.",
    "A similar scheme was introduced in a neighbouring province three years ago at lower cost.",
    "The vote is scheduled for the last week of the month, after the summer recess of the chamber.",
    "Construction costs have risen sharply since the first estimates were drawn up by the engineers.",
    "Several hundred residents attended the meeting, many of them carrying banners and flags.",
    "The budget for the coming year includes a reserve fund for unexpected repairs to public buildings.",
]


@dataclass
class SyntheticArticle:
    index: int
    article_id: str
    text: str
    claims: list[dict[str, Any]]  # ClaimDraft fields
    # passage-label answers: the attributed sentence -> PassageLabel fields
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def whole_answer(self, fuzzy: bool = True) -> str:
        """A claims-whole answer: every claim; with `fuzzy`, a few evidence strings
        are not verbatim (quote style, whitespace, a typo) so every grounding tier runs."""
        claims = []
        for i, claim in enumerate(self.claims):
            claim = dict(claim)
            if fuzzy and i % 7 == 3:  # whitespace and quote style
                claim["evidence"] = "  " + claim["evidence"].replace(" ", "  ", 2) + "\u201d"
            elif fuzzy and i % 7 == 5 and len(claim["evidence"]) > 30:  # one typo
                text = claim["evidence"]
                pos = len(text) // 2
                claim["evidence"] = text[:pos] + ("x" if text[pos] != "x" else "y") + text[pos + 1 :]
            claims.append(claim)
        return json.dumps({"claims": claims}, ensure_ascii=False)


def _evidence(sentence: str, evidence: str) -> str:
    assert evidence in sentence, (sentence, evidence)
    return evidence


def make_article(index: int, n_claims: int = 15, target_chars: int = 5000, seed: int = 0) -> SyntheticArticle:
    """A deterministic news-like article with `n_claims` attributed sentences."""
    rng = random.Random(seed * 1_000_003 + index)
    topic = rng.choice(TOPICS)
    title = f"Council weighs {topic.removeprefix('the ')} plan, report {index:05d}"
    people = [(rng.choice(FIRST), rng.choice(LAST), rng.choice(ROLES)) for _ in range(6)]
    paragraphs: list[str] = []
    claims: list[dict[str, Any]] = []
    labels: dict[str, dict[str, Any]] = {}
    length = len(title) + 2
    used: set[str] = set()
    for i in range(n_claims):
        for _attempt in range(100):  # every claim says something different (no duplicates to drop)
            stance = rng.choice(["support", "support", "oppose", "oppose", "neutral", "mixed"])
            phrase = rng.choice(STANCE_WORDS[stance])
            if phrase not in used:
                break
        used.add(phrase)
        condition = rng.choice(CONDITIONS) if rng.random() < 0.3 else ""
        kind = i % 3
        if kind == 2:
            org = rng.choice(ORGS)
            speaker, aliases, stype = org.removeprefix("the "), [], "organization"
            clause = f"{topic} {phrase}" + (f" {condition}" if condition else "")
            sentence = f"According to {org}, {clause}."
            evidence, attribution = clause, "indirect"
        else:
            first, last, role = people[i % len(people)]
            speaker, aliases, stype = f"{first} {last}", [last], "person"
            quote = f"{topic[0].upper()}{topic[1:]} {phrase}" + (f" {condition}" if condition else "")
            if kind == 0:
                sentence = f"\u201c{quote},\u201d said {first} {last}, the {role}."
                evidence, attribution = quote, "direct"
            else:
                sentence = f"{first} {last}, the {role}, said that {quote[0].lower()}{quote[1:]}."
                evidence, attribution = f"{quote[0].lower()}{quote[1:]}", "indirect"
        # Narration fills each paragraph up to its share of `target_chars`.
        goal = len(title) + 2 + (i + 1) * target_chars // n_claims
        narration: list[str] = []
        while length + sum(len(s) + 1 for s in narration) + len(sentence) + 2 < goal - 45:
            narration.append(rng.choice(NARRATION))
        paragraph = " ".join([*narration, sentence])
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
        claims.append({
            "speaker": speaker,
            "speaker_aliases": aliases,
            "speaker_type": stype,
            "target": topic,
            "claim": f"{speaker} says that {topic} {phrase}.",
            "stance": stance,
            "conditions": [condition] if condition else [],
            "attribution": attribution,
            "evidence": _evidence(sentence, evidence),
        })
        labels[sentence] = {
            "speaker": speaker, "speaker_type": stype, "target": topic, "stance": stance,
            "conditions": [condition] if condition else [],
        }
    text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
    return SyntheticArticle(index, f"art{index:05d}", text, claims, labels)


def write_articles_dir(directory: Path, articles: list[SyntheticArticle]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for article in articles:
        (directory / f"{article.article_id}.txt").write_text(article.text, encoding="utf-8")
    return directory


_REPORT = re.compile(r"report (\d{5})")
_PASSAGE = re.compile(r"<passage>\n(.*?)\n</passage>", re.S)
NONE_LABEL = json.dumps({"speaker": "none", "speaker_type": "other", "target": "none", "stance": "neutral", "conditions": []})


class AnswerBook:
    """Precomputed answers for synthetic articles, found by the article number in the title."""

    def __init__(self, articles: list[SyntheticArticle], fuzzy: bool = True) -> None:
        self.whole = {a.index: a.whole_answer(fuzzy) for a in articles}
        self.labels = {a.index: {k: json.dumps(v) for k, v in a.labels.items()} for a in articles}

    def answer_messages(self, messages: Iterable[tuple[str, str]]) -> str:
        """Answer the last user turn that holds an article or passage (a re-ask
        repeats the original messages, then the answer and its feedback)."""
        users = [content for role, content in messages if role == "user" and "report " in content]
        return self.answer(users[-1] if users else "")

    def answer(self, user_message: str) -> str:
        match = _REPORT.search(user_message)
        index = int(match.group(1)) if match else -1
        passage = _PASSAGE.search(user_message)
        if passage is None:
            return self.whole.get(index, '{"claims": []}')
        table = self.labels.get(index, {})
        text = passage.group(1)
        if text in table:
            return table[text]
        for sentence, label in table.items():  # a passage that grouped sentences
            if sentence in text:
                return label
        return NONE_LABEL


# --- gold files and predictions -------------------------------------------------------


def gold_document(article: SyntheticArticle) -> dict[str, Any]:
    return {"article_id": article.article_id, "annotator": "benchmark", "claims": article.claims}


def write_gold_dir(directory: Path, articles: list[SyntheticArticle], differ: bool = False) -> Path:
    """Gold files; with `differ`, gold that differs from what the fake model
    answers the way `predicted_claims` differs (so scoring has real work to do)."""
    directory.mkdir(parents=True, exist_ok=True)
    for article in articles:
        document = gold_document(article)
        if differ:
            document["claims"] = [
                {k: v for k, v in c.items() if k not in ("evidence_span", "grounding")}
                for c in predicted_claims(article, seed=1)
            ]
        (directory / f"{article.article_id}.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return directory


def predicted_claims(article: SyntheticArticle, seed: int = 0) -> list[dict[str, Any]]:
    """As many predicted claims as gold ones, as a plausible model gets them:
    most right, some with the speaker's surname only or a shifted span, a wrong
    stance here and there, a few with the wrong speaker, and a few spurious
    claims on narration instead of the last gold claims."""
    rng = random.Random(seed * 7919 + article.index)
    text = article.text
    out: list[dict[str, Any]] = []
    n = len(article.claims)
    for i, gold in enumerate(article.claims):
        claim = dict(gold)
        start = text.find(gold["evidence"])
        end = start + len(gold["evidence"])
        roll = rng.random()
        if i >= n - 2:  # spurious: a narration sentence
            sentence = rng.choice(NARRATION)
            start = text.find(sentence)
            if start < 0:
                continue
            end = start + len(sentence)
            claim.update(evidence=sentence, speaker="Unnamed Official", speaker_aliases=[], stance="neutral")
        elif roll < 0.15:  # surname only, span cut short
            claim["speaker"] = gold["speaker"].split()[-1]
            end = start + max(10, int(len(gold["evidence"]) * 0.7))
            claim["evidence"] = text[start:end]
        elif roll < 0.25:  # the wrong speaker
            claim["speaker"], claim["speaker_aliases"] = "Someone Else", []
        if rng.random() < 0.2:
            claim["stance"] = rng.choice(["support", "oppose", "neutral", "mixed"])
        if rng.random() < 0.2:
            claim["conditions"] = [] if claim["conditions"] else ["if the budget passes"]
        claim["evidence_span"] = {"start": start, "end": end}
        claim["grounding"] = "exact"
        out.append(claim)
    return out


def extraction_record(article: SyntheticArticle, claims: list[dict[str, Any]], prompt: str = "claims-whole@v1",
                      model: str = "fake/model") -> dict[str, Any]:
    import hashlib

    return {
        "schema_version": 1,
        "article_id": article.article_id,
        "article_sha256": hashlib.sha256(article.text.encode("utf-8")).hexdigest(),
        "claims": claims,
        "prompt": prompt,
        "model": model,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "calls": 1},
        "dropped": {},
    }


def write_run_dir(directory: Path, articles: list[SyntheticArticle], inputs: list[Path]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "extractions.jsonl").open("w", encoding="utf-8") as handle:
        for article in articles:
            record = extraction_record(article, predicted_claims(article))
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    manifest = {"run_id": directory.name, "status": "complete", "inputs": [str(p) for p in inputs]}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return directory


# --- subprocesses -----------------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    cpu: float  # user + system seconds of the child
    maxrss_mib: float  # the child's peak resident set size
    returncode: int
    stdout: str
    stderr: str


# A tiny launcher process starts the measured command and reports its rusage.
# ru_maxrss counts the memory a forked child shares with its parent before it
# execs, so a child forked straight from a benchmark that holds thousands of
# articles would report the benchmark's size; forked from this launcher
# (a few MiB) it reports its own peak.
_LAUNCHER = (
    "import json, os, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "process = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(process.pid, 0)\n"
    "wall = time.perf_counter() - started\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    json.dump({'status': os.waitstatus_to_exitcode(status), 'cpu': usage.ru_utime + usage.ru_stime,"
    " 'maxrss_kib': usage.ru_maxrss, 'wall': wall}, out)\n"
)


def run_measured(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> Measured:
    """Run `command`; its wall time, CPU time and peak RSS, from `os.wait4` in a
    small launcher process (the rusage of exactly this command)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, report.name, *command],
                       cwd=cwd, env=env, stdout=out, stderr=err, check=False)
        usage = json.loads(Path(report.name).read_text())
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=usage["wall"],
            cpu=usage["cpu"],
            maxrss_mib=usage["maxrss_kib"] / 1024,  # ru_maxrss is KiB on Linux
            returncode=usage["status"],
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


EXTRACTOR = str(Path(PY).parent / "extractor")


# --- an instant in-process model, and recordings made with it ----------------------------

FAKE_MODEL = "fake/instant"


class InstantProvider(Provider):
    """Answers at once from an `AnswerBook`; keeps the time it spent answering."""

    def __init__(self, book: AnswerBook) -> None:
        self.book = book
        self.model_id = FAKE_MODEL
        self.calls = 0
        self.seconds = 0.0

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        text = self.book.answer_messages(request.messages)
        self.calls += 1
        self.seconds += time.perf_counter() - started
        return Completion(text=text, prompt_tokens=900, completion_tokens=600)


def record_responses(articles: list[SyntheticArticle], articles_dir: Path, prompt_ref: str, recording: Path,
                     work: Path) -> None:
    """Run the instant model over `articles_dir` and record every response into
    `recording` (the layout `--record` writes and `-m replay --replay-from` reads)."""
    from extractor.cache import CachedProvider, ResponseStore
    from extractor.pipeline import ExtractOptions, Extractor
    from extractor.prompts import load_prompt
    from extractor.runner import execute_run

    provider = CachedProvider(InstantProvider(AnswerBook(articles)), [], [ResponseStore(recording)])
    extractor = Extractor(load_prompt(prompt_ref), provider, ExtractOptions(concurrency=8))
    summary = execute_run(extractor, [articles_dir], work / f"record-{prompt_ref.replace('@', '-')}-{len(articles)}")
    assert summary.failed == 0, summary.as_dict()
