"""Every `ALGORITHM.md §N` cited in the package, the benchmarks, the tests and the other docs
names a numbered heading of docs/ALGORITHM.md, and nothing cites documents outside the
repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALGORITHM = ROOT / "docs" / "ALGORITHM.md"
SCANNED = ("diffeditor_app", "bench", "tests", "packaging", ".ci", "docs")
SUFFIXES = {".py", ".sh", ".ps1", ".md", ".toml", ".spec", ""}  # "" for the scripts in .ci/
SECTION = r"§(\d+(?:\.\d+)*)"
# "ALGORITHM.md §4.7", and the sections listed after it: "ALGORITHM.md §7, §6.3"
CITATION = re.compile(rf"ALGORITHM\.md {SECTION}((?:(?:,| and) §\d+(?:\.\d+)*)*)")
HEADING = re.compile(r"^#{2,6} (\d+(?:\.\d+)*)\.? ", flags=re.M)


def scanned_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in SUFFIXES and "wheels" not in path.parts:
                files.append(path)
    return files


def citations(text: str) -> list[str]:
    found = []
    for match in CITATION.finditer(text):
        found.append(match.group(1))
        found.extend(re.findall(SECTION, match.group(2)))
    return found


def test_every_cited_section_is_a_heading() -> None:
    headings = set(HEADING.findall(ALGORITHM.read_text(encoding="utf-8")))
    assert {"4", "4.7", "11"} <= headings  # the pattern reads this page's headings
    missing = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        missing += [
            f"{path.relative_to(ROOT)}: §{section}"
            for section in citations(text)
            if section not in headings
        ]
    assert not missing, "cited sections that docs/ALGORITHM.md lacks:\n" + "\n".join(missing)


def test_citations_are_found() -> None:
    assert citations("(ALGORITHM.md §7, §6.3) and ALGORITHM.md §4.2 and §4.7.") == [
        "7",
        "6.3",
        "4.2",
        "4.7",
    ]


def test_no_citation_of_documents_outside_the_repository() -> None:
    outside = "CLARIFICATIONS"
    offenders = [
        str(path.relative_to(ROOT))
        for path in scanned_files()
        if path.name != "test_docs.py" and outside in path.read_text(errors="replace")
    ]
    assert not offenders, f"{outside} is not in the repository; cite docs/ instead: {offenders}"
