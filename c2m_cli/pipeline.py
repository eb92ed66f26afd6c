"""`c2m run PIPELINE.toml`: the chain as a config file, each step one c2m command line.

    workspace = "ws"          # relative to the TOML file
    seed = 0                  # default for every step
    [[steps]]
    command = "ingest"
    orders = "data/orders.csv"
    preset = "cdnow"
    [[steps]]
    command = "label"
    as-of = "1998-06-30"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from c2m_cli.errors import UsageError

KNOWN_COMMANDS = ("ingest", "label", "segment", "forecast", "recommend", "report", "demo", "verify")
# Options whose values are file paths, resolved relative to the pipeline file.
_PATH_OPTIONS = {"orders", "customers", "products", "events", "reviews", "mapping", "assign", "out"}


def load_pipeline(path: Path) -> tuple[Path, list[list[str]]]:
    """Parse a pipeline file into the workspace and one argv per step."""
    if not path.is_file():
        raise UsageError(f"pipeline file {path} does not exist")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from exc
    base = path.parent.resolve()
    if "workspace" not in config:
        raise UsageError(f"{path}: missing top-level `workspace = \"DIR\"`")
    workspace = _resolve(base, str(config["workspace"]))
    steps = config.get("steps")
    if not isinstance(steps, list) or not steps:
        raise UsageError(f"{path}: no [[steps]] tables")
    default_seed = config.get("seed")
    argvs = []
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict) or "command" not in step:
            raise UsageError(f"{path}: step {number} has no `command`")
        command = str(step["command"])
        if command not in KNOWN_COMMANDS:
            raise UsageError(
                f"{path}: step {number}: unknown command {command!r} "
                f"(one of {', '.join(KNOWN_COMMANDS)})"
            )
        argv = [command, str(workspace)]
        options: dict[str, Any] = {k: v for k, v in step.items() if k != "command"}
        if default_seed is not None and "seed" not in options and command != "verify":
            options["seed"] = default_seed
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                if value:
                    argv.append(flag)
                continue
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            text = str(value)
            if key.replace("-", "_") in _PATH_OPTIONS and "://" not in text:
                text = str(_resolve(base, text))
            argv += [flag, text]
        argvs.append(argv)
    return workspace, argvs


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return (candidate if candidate.is_absolute() else (base / candidate)).resolve()
