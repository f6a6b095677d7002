"""The `instructpipe` command line: the one boundary where errors become messages and exit codes."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import List, Optional

import click
import typer
import yaml

try:  # recent typer vendors click; its exceptions are not click's
    from typer._click.exceptions import ClickException as TyperClickException
except ImportError:  # pragma: no cover - typer versions that use click itself
    TyperClickException = click.ClickException

from pipeline import safe_yaml
from pipeline.errors import ConfigError, InputError, UserError
from pipeline.progress import say

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build instruction-tuning datasets: ingest, generate, filter, export.")

OnlyOpt = typer.Option(None, "--only", metavar="STAGE", help="run only this stage (its inputs must be done)")
UntilOpt = typer.Option(None, "--until", metavar="STAGE", help="run this stage and what it depends on")
ForceOpt = typer.Option(None, "--force", metavar="STAGE",
                        help="re-run this stage (and what depends on it); repeatable")
ParamOpt = typer.Option(None, "-p", "--param", metavar="KEY=VALUE",
                        help="op parameter; the value is YAML (3, true, a list, {a: 10}); repeatable")
ModelOpt = typer.Option(None, "--model", metavar="NAME",
                        help="model name for every LLM stage (overrides the recipe's llm.model)")
BaseUrlOpt = typer.Option(None, "--base-url", metavar="URL",
                          help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 "
                               "(overrides llm.base_url)")
ConcurrencyOpt = typer.Option(None, "--concurrency", metavar="N",
                              help="requests in flight at once per LLM stage (overrides llm.concurrency)")


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that files are flushed on the way out."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised by subprocess tests
    raise Terminated()


def parse_params(pairs: Optional[List[str]]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"-p {pair!r}: expected key=value")
        try:
            out[key.strip()] = safe_yaml.load(value) if value.strip() else ""
        except yaml.YAMLError as e:  # never guess: a half-typed list must not become a string
            why = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ConfigError(f"-p {pair}: not valid YAML ({why}); quote text that is meant as it stands, "
                              f"e.g. -p '{key.strip()}=\"...\"'") from None
    return out


def llm_overrides(model: str | None, base_url: str | None, concurrency: int | None) -> dict:
    return {k: v for k, v in (("model", model), ("base_url", base_url), ("concurrency", concurrency))
            if v is not None}


def engine_block(block: dict, kind: str | None, address: str | None, workers: int | None) -> dict:
    """The recipe's `engine:` block with the command line's choices on top."""
    from pipeline.engine import EngineSettings

    if kind is not None and kind not in ("local", "ray"):
        raise ConfigError(f"--engine {kind}: expected local or ray")
    chosen = {k: v for k, v in (("kind", kind), ("address", address), ("workers", workers)) if v is not None}
    if address is not None and (kind or block.get("kind")) != "ray":
        raise ConfigError("--address names a Ray cluster: use it with --engine ray")
    merged = EngineSettings(**{**block, **chosen}).model_dump(exclude_none=True)
    if merged.get("kind") == "ray":  # said before any stage runs, not half-way through a run
        from pipeline.ray_engine import import_ray

        import_ray()
    return merged


@app.command()
def run(recipe: str = typer.Argument(..., help="recipe YAML (or a bundled recipe name)"),
        out: Optional[Path] = typer.Option(None, "--out", metavar="DIR",
                                           help="run folder (default outputs/<name>)"),
        only: Optional[str] = OnlyOpt, until: Optional[str] = UntilOpt,
        force: Optional[List[str]] = ForceOpt,
        no_cache: Optional[List[str]] = typer.Option(
            None, "--no-cache", metavar="STAGE", help="re-run this stage from scratch sending every request again "
            "(new samples replace its cached answers; what depends on it re-runs too)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="plan (and render LLM prompts) only"),
        model: Optional[str] = ModelOpt, base_url: Optional[str] = BaseUrlOpt,
        concurrency: Optional[int] = ConcurrencyOpt,
        workers: Optional[int] = typer.Option(None, "--workers", min=1, metavar="N",
                                              help="run per-record stages as shards in N processes"),
        engine: Optional[str] = typer.Option(None, "--engine", metavar="local|ray",
                                             help="where shards run (default local)"),
        address: Optional[str] = typer.Option(None, "--address", metavar="ADDR",
                                              help="Ray cluster address (auto, HOST:PORT)")) -> None:
    """Run a recipe; a re-run skips done stages and resumes interrupted ones."""
    from pipeline.recipe import load_recipe
    from pipeline.resources import find_recipe
    from pipeline.runner import RunOptions, Runner

    path = find_recipe(recipe)
    if path is None:
        raise ConfigError(f"{recipe}: recipe not found")
    rec = load_recipe(path)
    out_dir = out or Path("outputs") / rec.name
    opts = RunOptions(only, until, tuple(force or ()), dry_run, llm_overrides(model, base_url, concurrency),
                      no_cache=tuple(no_cache or ()), workers=workers)
    rec.engine = engine_block(rec.engine, engine, address, workers)
    Runner(rec, out_dir, opts).run()
    if not dry_run:
        say(f"run folder: {out_dir}")


@app.command()
def status(run_dir: Path = typer.Argument(..., help="run folder"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable list of stages")) -> None:
    """Show every stage's state and counters."""
    from pipeline.status import render_table, stage_rows

    rows = stage_rows(run_dir)
    typer.echo(json.dumps(rows, indent=2) if as_json else render_table(rows))


@app.command()
def stage(op: str = typer.Argument(..., help="op name (see `instructpipe ops`)"),
          inputs: Optional[List[Path]] = typer.Option(
              None, "-i", "--input", metavar="FILE",
              help="input JSONL (repeatable); -p names it by its file name without the extension"),
          out: Path = typer.Option(..., "-o", "--out", metavar="FILE", help="output JSONL"),
          params: Optional[List[str]] = ParamOpt,
          model: Optional[str] = ModelOpt, base_url: Optional[str] = BaseUrlOpt,
          concurrency: Optional[int] = ConcurrencyOpt) -> None:
    """Run one op ad hoc; its state lives beside OUT (OUT.run/), so the same command resumes."""
    from pipeline.adhoc import run_adhoc

    run_adhoc(op, list(inputs or []), out, parse_params(params), llm_overrides(model, base_url, concurrency))


@app.command()
def ingest(source: str = typer.Argument(..., help="source name (see `instructpipe sources`)"),
           location: str = typer.Argument(..., metavar="PATH_OR_HUB_ID",
                                          help="a local file or folder, or a Hugging Face dataset id "
                                               "(owner/name)"),
           out: Path = typer.Option(..., "-o", "--out", metavar="FILE", help="output JSONL"),
           params: Optional[List[str]] = ParamOpt) -> None:
    """Read a source into canonical records (shorthand for `stage ingest`)."""
    from pipeline.adhoc import run_adhoc

    extra = parse_params(params)
    extra["source"] = source
    if Path(location).exists():
        extra["path"] = str(Path(location).resolve())
    elif location.count("/") == 1 and not location.startswith((".", "/")):
        extra["hub"] = location
    else:
        raise InputError(f"{location}: no such file or folder")
    run_adhoc("ingest", [], out, extra, {})


@app.command()
def export(source: Path = typer.Argument(..., metavar="IN", help="JSONL file or run folder"),
           fmt: str = typer.Option(..., "--format", "-f", metavar="FORMAT",
                                   help="messages, alpaca, sharegpt, hf, parquet or dpo (preference pairs "
                                        "from `pairs`)"),
           out: Path = typer.Option(..., "-o", "--out", metavar="DIR", help="output folder"),
           validation: Optional[float] = typer.Option(None, "--validation", metavar="N",
                                                      help="validation split: a fraction (<1) or a count"),
           seed: int = typer.Option(0, "--seed", metavar="N", help="seed of the validation split"),
           name: Optional[str] = typer.Option(None, "--name", metavar="NAME",
                                              help="dataset name (default: the recipe or file name)")) -> None:
    """Export records (a JSONL file or a run's final stage) for TRL, axolotl or LLaMA-Factory."""
    from pipeline.adhoc import export_cli

    export_cli(source, fmt, out, validation, seed, name)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="run folder"),
           out: Optional[Path] = typer.Option(None, "-o", "--out", metavar="FILE",
                                              help="HTML file (default RUN_DIR/report.html)")
           ) -> None:
    """Write a self-contained HTML report of a run: funnel, mix, distributions, samples."""
    from pipeline.report.render import write_report

    say(f"wrote {write_report(run_dir, out)}")


@app.command()
def review(run_dir: Path = typer.Argument(..., help="run folder"),
           stage: Optional[str] = typer.Option(None, "--stage", help="stage to open first"),
           host: str = typer.Option("127.0.0.1", "--host", help="address to bind (non-loopback needs the printed token)"),
           port: int = typer.Option(0, "--port", help="port (0: any free port)"),
           reviewer: Optional[str] = typer.Option(None, "--reviewer", help="your name on decisions"),
           open_browser: bool = typer.Option(False, "--open", help="open the page in a browser")) -> None:
    """Serve the review page of a run: browse stages, accept, reject, edit, flag records."""
    from pipeline.review import review_command

    review_command(run_dir, stage, host, port, reviewer, open_browser)


@app.command()
def sources() -> None:
    """List the source adapters with their catalog entry and parameters."""
    from pipeline.listing import list_sources

    typer.echo(list_sources())


@app.command()
def ops(name: Optional[str] = typer.Argument(None, metavar="NAME", help="show only this op")) -> None:
    """List the ops by purpose, with their parameters and defaults (or one op: `ops NAME`)."""
    from pipeline.listing import describe_op, list_ops

    typer.echo(describe_op(name) if name else list_ops())


def _version(value: bool) -> None:
    if value:
        from pipeline import __version__

        typer.echo(f"instructpipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Build instruction-tuning datasets: ingest, generate, filter, export."""


from pipeline.batch_cli import app as batch_app  # noqa: E402 - the `batch` sub-commands
app.add_typer(batch_app, name="batch")


def _plain_help(command: click.Command) -> click.Command:
    """Help without Python type labels: recent typer prints `<list[str]>`, `<bool>` beside every
    option; value options carry a metavar instead (STAGE, FILE), flags and arguments show none."""
    help_option = command.get_help_option(command.context_class(command))  # made once, then cached
    for param in command.params + ([help_option] if help_option else []):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = param.name.upper()
            param.display_type_rich = lambda ctx: None  # the metavar says it; typer would add `<str>`
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    return command


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = _plain_help(typer.main.get_command(app))(prog_name="instructpipe", standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into exit code 130 when not standalone
            raise KeyboardInterrupt
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:  # the machine's files (a full disk, a read-only folder), not a bug
        from pipeline.rundir import os_problem

        print(f"error: {os_problem(e)}", file=sys.stderr)
        sys.exit(1)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (click.ClickException, TyperClickException) as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare command asked for its help: no error line
            typer.echo(e.format_message())
            sys.exit(0)
        print(f"error: {e.format_message()} (see instructpipe --help)", file=sys.stderr)
        sys.exit(1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted: run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except Terminated:
        print("terminated: run the same command again to resume", file=sys.stderr)
        sys.exit(143)
