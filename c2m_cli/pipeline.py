"""`c2m run PIPELINE.toml`: the chain as a config file, run through the library.

    workspace = "ws"          # relative to the TOML file
    seed = 0                  # default for every step
    [[steps]]
    command = "ingest"
    orders = "data/orders.csv"
    preset = "cdnow"
    [[steps]]
    command = "label"
    as-of = "1998-06-30"

Every step becomes the command line it stands for (recorded in the manifest, so `c2m verify`
replays it), and before the first step runs every step's options are parsed and checked by that
command's own option parser and adapter: an unknown option or a bad value is exit 2 naming the
step and the option, and nothing has run. Each step then calls the library entry point its
command would call (no argv through the CLI, no second JSON object).

A step is skipped when nothing it depends on changed (DESIGN.md): its command, parameters, seed
and c2m version equal its latest manifest entry, every recorded input still has its recorded
hash and every recorded output is still on disk with its hash. ``force`` runs every step.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c2m_cli import console
from c2m_cli.errors import C2MError, UsageError

KNOWN_COMMANDS = ("ingest", "label", "segment", "forecast", "recommend", "report", "demo", "verify")
# Steps that record a manifest entry and may be skipped when unchanged (demo runs a whole chain
# of its own; verify writes nothing).
SKIPPABLE = ("ingest", "label", "segment", "forecast", "recommend", "report")
# Options whose values are file paths, resolved relative to the pipeline file.
_PATH_OPTIONS = {"orders", "customers", "products", "events", "reviews", "mapping", "assign", "out", "scratch"}


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
    if not isinstance(config["workspace"], str) or not config["workspace"].strip():
        raise UsageError(f"{path}: `workspace` must be a directory name in quotes, got {config['workspace']!r}")
    unknown = sorted(set(config) - {"workspace", "seed", "steps"})
    if unknown:
        raise UsageError(f"{path}: unknown top-level key(s) {', '.join(unknown)} (workspace, seed, steps)")
    workspace = _resolve(base, config["workspace"])
    steps = config.get("steps")
    if not isinstance(steps, list) or not steps:
        raise UsageError(f"{path}: no [[steps]] tables")
    default_seed = config.get("seed")
    if default_seed is not None and (isinstance(default_seed, bool) or not isinstance(default_seed, int)):
        raise UsageError(f"{path}: `seed` must be an integer, got {default_seed!r}")
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
        if "workspace" in options:
            raise UsageError(f"{path}: step {number} ({command}): the workspace is set once, at the top")
        if default_seed is not None and "seed" not in options and command != "verify":
            options["seed"] = default_seed
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                if value:
                    argv.append(flag)
                continue
            if isinstance(value, dict):
                raise UsageError(f"{path}: step {number} ({command}): option {key} must be a value, not a table")
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


@dataclass
class PlannedStep:
    number: int
    command: str
    argv: list[str]
    call: Any  # c2m_cli.commands._common.LibraryCall
    strict: bool


class StepFailed(C2MError):
    """A pipeline step failed: its own message and exit code, prefixed by the step."""

    def __init__(self, step: PlannedStep, error: C2MError) -> None:
        super().__init__(f"step {step.number} (c2m {step.command}): {error.message}", hint=error.hint)
        self.exit_code = error.exit_code


def plan_pipeline(path: Path) -> tuple[Path, list[PlannedStep]]:
    """Parse the pipeline and check every step's options with its command's own parser.

    Nothing runs: each command's adapter is called in planning mode, so its option parsing and
    checks happen and the library call it would make is captured.
    """
    import typer

    from c2m_cli.cli import app
    from c2m_cli.commands._common import Planned, planning
    from c2m_cli.workspace import register_argv_secrets

    workspace, argvs = load_pipeline(path)
    group = typer.main.get_command(app)
    commands: dict[str, Any] = getattr(group, "commands", {})
    planned: list[PlannedStep] = []
    for number, argv in enumerate(argvs, start=1):
        name = argv[0]
        register_argv_secrets(argv)
        where = f"{path}: step {number} ({name})"
        command = commands[name]
        try:
            ctx = command.make_context(name, list(argv[1:]), resilient_parsing=False)
        except typer.Exit as stop:  # --help and the like
            raise UsageError(f"{where}: not a step option ({stop})") from None
        except Exception as exc:  # the parser's own error (typer vendors click: match by shape)
            if not hasattr(exc, "format_message"):
                raise
            raise UsageError(f"{where}: {exc.format_message()}") from None
        strict = bool(ctx.params.get("strict"))
        try:
            with ctx, planning():
                command.invoke(ctx)
        except Planned as made:
            if name in SKIPPABLE:
                _dry_run(made.call, where)
            planned.append(PlannedStep(number, name, argv, made.call, strict))
            continue
        except C2MError as exc:
            raise UsageError(f"{where}: {exc.message}") from None
        except Exception as exc:
            if not hasattr(exc, "format_message"):
                raise
            raise UsageError(f"{where}: {exc.format_message()}") from None
        raise UsageError(f"{where}: the command cannot run in a pipeline")
    return workspace, planned


class _DryRunDone(Exception):  # noqa: N818 - control flow
    """The library function got as far as touching the workspace: its options are valid."""


def _dry_run(call: Any, where: str) -> None:
    """Run a step's own option checks (those its library function makes before touching the
    workspace) without running it: exit 2 for a bad value, before any step has run.

    The library function gets a workspace that stops it at its first write (``step``, a private
    directory, a manifest field). An error other than a usage error (say, a table a later step
    will write is not there yet) says nothing about the options and is left to the real run.
    """
    import importlib

    from c2m_cli.diagnostics import WarningLog
    from c2m_cli.workspace import Workspace

    class DryRunWorkspace(Workspace):
        def __init__(self, root: Path) -> None:  # never creates the directory
            self.root = Path(root).resolve()
            self._stale = []
            self.run_warnings = WarningLog()
            self.skip_unchanged = False
            self._active = None
            self._held = {}

        def step(self, *args: Any, **kwargs: Any) -> Any:
            raise _DryRunDone

        def private_dir(self, kind: str) -> Path:
            raise _DryRunDone

        def set_manifest_field(self, key: str, value: Any) -> None:
            raise _DryRunDone

        def locked(self) -> Any:
            raise _DryRunDone

    module_name, function_name = call.target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        function(DryRunWorkspace(call.workspace), **call.options, seed=call.seed, executor=call.executor, argv=None)
    except _DryRunDone:
        return
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    except Exception:  # noqa: BLE001 - only usage errors are the options' fault
        return


def run_pipeline(path: Path, *, force: bool = False) -> dict[str, Any]:
    """Run (or skip) every step of the pipeline in order; the summary lists both."""
    from c2m_cli.commands._common import run_library, step_argv
    from c2m_cli.diagnostics import WarningLog
    from c2m_cli.workspace import StepUnchanged

    workspace, planned = plan_pipeline(Path(path))
    ran: list[str] = []
    skipped: list[str] = []
    warnings = WarningLog()
    strict_hit = False
    for step in planned:
        label = f"[{step.number}/{len(planned)}] c2m {step.command}"
        try:
            result = run_library(
                step.call,
                argv=step_argv(step.call.workspace, step.argv),
                skip_unchanged=not force and step.command in SKIPPABLE,
            )
        except StepUnchanged:
            console.info(f"{label}: unchanged, skipped")
            skipped.append(step.command)
            continue
        except C2MError as error:
            raise StepFailed(step, error) from error
        console.info(f"{label}: done")
        ran.append(step.command)
        step_warnings = result.get("warnings") or []
        for item in step_warnings:
            warnings.warn(item["code"], item["message"])
        strict_hit = strict_hit or (step.strict and bool(step_warnings))
    summary: dict[str, Any] = {
        "workspace": str(workspace),
        "steps": ran,
        "skipped": skipped,
        "warnings": warnings.as_list(),
    }
    if strict_hit:
        summary["strict_step_warned"] = True
    return summary
