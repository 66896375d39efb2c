"""``fastmango ai eval [PATH] [--model ALIAS]``: run a project's pydantic-evals datasets and print the reports.

An eval file is a Python module holding ``pydantic_evals.Dataset`` objects at module level and an
``async def task(inputs, model)`` that runs one case (``model`` is None unless ``--model`` is given, so the module
picks its offline default). An optional ``async def setup()`` runs first (seed data). PATH is a file or a folder
of them (default ``evals``). The command exits 1 when a case fails or an assertion does not hold.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from fastmango.cli.ai_commands import _load, ai
from fastmango.cli.main import fail


def _module(path: Path, root: Path) -> ModuleType:
    """Import ``path``: by its dotted name when it is inside the project (so it can import its siblings)."""
    path = path.resolve()
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = None
    if relative is not None and all((root / p / "__init__.py").exists() for p in relative.parents if str(p) != "."):
        return importlib.import_module(".".join(relative.with_suffix("").parts))
    spec = importlib.util.spec_from_file_location(f"fastmango_eval_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise fail(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
    raise fail(f"no eval file or folder at {path}")


def _datasets(module: ModuleType) -> list[Any]:
    from pydantic_evals import Dataset

    return [value for name, value in vars(module).items() if isinstance(value, Dataset) and not name.startswith("_")]


def _outcome(report: Any) -> tuple[int, int, int]:
    """(assertions passed, assertions failed, cases that raised)."""
    passed = failed = 0
    for case in report.cases:
        for result in case.assertions.values():
            passed, failed = (passed + 1, failed) if result.value else (passed, failed + 1)
        failed += len(case.evaluator_failures)
    return passed, failed, len(report.failures)


@ai.command("eval")
def eval_command(
    path: Path = typer.Argument(Path("evals"), help="An eval file, or a folder of them."),
    model: str | None = typer.Option(None, "--model", help="A model alias of settings.ai_models (default: offline)."),
    output: bool = typer.Option(False, "--output", help="Show each case's output in the report."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Cases run at once."),
) -> None:
    """Run pydantic-evals datasets against the project's agents and print the reports."""
    from fastmango.core.project import find_project
    from fastmango.db import disconnect

    loaded = _load()
    root = find_project().root.resolve()
    modules = [(file, _module(file, root)) for file in _files(path)]
    suites = [(file, module, dataset) for file, module in modules for dataset in _datasets(module)]
    if not suites:
        raise fail(f"no pydantic_evals.Dataset found in {path}")
    for file, module, _ in suites:
        if not callable(getattr(module, "task", None)):
            raise fail(f"{file} has datasets but no task(inputs, model) function")

    async def main() -> tuple[int, int, int]:
        from fastmango.ai import flush_usage
        from fastmango.ai.llm import resolve_model

        llm = resolve_model(model, loaded.settings) if model else None
        totals = [0, 0, 0]
        try:
            for module in dict.fromkeys(module for _, module, _ in suites):
                if callable(getattr(module, "setup", None)):
                    await module.setup()
            for _, module, dataset in suites:
                report = await dataset.evaluate(
                    functools.partial(module.task, model=llm),
                    name=dataset.name,
                    task_name=f"{module.__name__}.task",
                    progress=False,
                    max_concurrency=concurrency,
                )
                report.print(include_input=True, include_output=output, include_durations=False)
                totals = [a + b for a, b in zip(totals, _outcome(report), strict=True)]
            return totals[0], totals[1], totals[2]
        finally:
            await flush_usage()
            await disconnect()

    passed, failed, errors = asyncio.run(main())
    typer.echo(f"{len(suites)} dataset(s): {passed} assertions passed, {failed} failed, {errors} case(s) raised")
    if failed or errors:
        raise typer.Exit(1)
