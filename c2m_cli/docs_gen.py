"""Generate docs/cli.md from the commands' own help (checked by tests/test_docs.py), and the
golden ``--help`` texts of every command (tests/golden/help/, checked by tests/test_help_golden.py).

Run `make docs` (or `python -m c2m_cli.docs_gen > docs/cli.md` and
`python -m c2m_cli.docs_gen --golden tests/golden/help`) after changing an option or a help text.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer


def _param_row(param: Any) -> tuple[str, str, str]:
    names = ", ".join(sorted(param.opts, key=len, reverse=True)) if param.opts else param.name
    if getattr(param, "is_flag", False):
        default = "off" if not param.default else "on"
    elif param.required:
        default = "required"
    elif param.default is None:
        default = "—"
    else:
        default = str(param.default)
    return names, default, " ".join((getattr(param, "help", None) or "").split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_cli_reference() -> str:
    from c2m_cli.cli import app

    group = typer.main.get_command(app)
    lines = [
        "# c2m command-line reference",
        "",
        "Generated from the commands' help by `make docs`; a test fails when it is stale.",
        "Exit codes: 0 ok · 2 usage error · 3 invalid input data · 4 missing prerequisite ·",
        "5 reproducibility mismatch (`verify`) · 1 unexpected (a bug).",
        "",
    ]
    commands = getattr(group, "commands", {})
    for name, command in commands.items():
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        usage_args = " ".join(p.name.upper() for p in arguments)
        lines += [f"## c2m {name}", "", "```", f"c2m {name} {usage_args} [OPTIONS]".replace("  ", " "), "```", ""]
        lines += [" ".join((command.help or "").split()), ""]
        rows = [_param_row(p) for p in command.params if p.param_type_name == "option"]
        if rows:
            lines += ["| option | default | meaning |", "|---|---|---|"]
            lines += [f"| `{n}` | {d} | {_cell(h)} |" for n, d, h in rows]
            lines.append("")
        if command.epilog:
            lines += epilog_markdown(command.epilog)
    return "\n".join(lines).rstrip() + "\n"


def epilog_markdown(epilog: str) -> list[str]:
    """Paragraphs joined into lines; a paragraph click keeps verbatim (``\\b``) as a code block."""
    out: list[str] = []
    for paragraph in epilog.split("\n\n"):
        if paragraph.startswith("\b\n"):
            out += ["```", *paragraph[2:].splitlines(), "```", ""]
        elif paragraph.strip():
            out += [" ".join(paragraph.split()), ""]
    return out


HELP_WIDTH = 100


def help_texts(width: int = HELP_WIDTH) -> dict[str, str]:
    """``c2m --help`` and every ``c2m COMMAND --help`` as printed on a ``width``-column terminal."""
    from c2m_cli.cli import app

    group = typer.main.get_command(app)
    # click leaves two columns of a terminal free
    settings: dict[str, Any] = {"terminal_width": width - 2, "max_content_width": width, "help_option_names": ["-h", "--help"]}
    root = group.context_class(group, info_name="c2m", **settings)
    texts = {"c2m": group.get_help(root)}
    for name, command in getattr(group, "commands", {}).items():
        context = command.context_class(command, info_name=name, parent=root, **settings)
        texts[name] = command.get_help(context)
    return texts


def write_golden(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in help_texts().items():
        path = folder / f"{name}.txt"
        path.write_text(text.rstrip() + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if "--golden" in sys.argv[1:]:
        write_golden(Path(sys.argv[sys.argv.index("--golden") + 1]))
    elif "--warnings" in sys.argv[1:]:
        from c2m_cli.diagnostics import warnings_markdown

        sys.stdout.write(warnings_markdown())
    else:
        sys.stdout.write(render_cli_reference())
