"""Generate docs/cli.md from the commands' own help (checked by tests/test_docs.py).

Run `make docs` (or `python -m c2m_cli.docs_gen > docs/cli.md`) after changing an option.
"""

from __future__ import annotations

import sys
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
            lines += [" ".join(command.epilog.split()), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    if "--warnings" in sys.argv[1:]:
        from c2m_cli.diagnostics import warnings_markdown

        sys.stdout.write(warnings_markdown())
    else:
        sys.stdout.write(render_cli_reference())
