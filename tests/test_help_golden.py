"""Every command's --help, pinned: tests/golden/help/<command>.txt is what a 100-column terminal
shows. A changed option or help text fails here until `make docs` rewrites the golden files."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2m_cli.docs_gen import help_texts

GOLDEN = Path(__file__).parent / "golden" / "help"
TEXTS = help_texts()


def test_every_command_has_a_golden_help():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(TEXTS), "run `make docs`"


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_help_matches_its_golden_file(name):
    assert TEXTS[name].rstrip() + "\n" == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8"), "run `make docs`"


def test_the_terminal_shows_the_golden_text(c2m):
    result = c2m("run", "--help", env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert result.stdout.rstrip() + "\n" == (GOLDEN / "run.txt").read_text(encoding="utf-8")


def test_help_reads_right():
    run = TEXTS["run"]
    assert "  [[steps]]\n    command = \"ingest\"" in run  # not eaten as markup, kept as lines
    for name, text in TEXTS.items():
        assert "<bool>" not in text, name  # a flag takes no value
        assert "Example:" in text, name  # every command's help has an example
        assert "╭" not in text, name
    assert "--executor" not in TEXTS["inspect"] and "--executor" not in TEXTS["export"]
    assert "--k-min" in TEXTS["segment"]
    assert "the smallest k whose silhouette is within one standard error of the highest" in " ".join(TEXTS["segment"].split())
