"""The structure the project promises: light core import, no import cycles, one declaration of each option,
and clear one-line errors (exit code 2) instead of tracebacks for the CLI's expected conditions."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import aleph_embed
from aleph_embed import EmbeddingOptions
from aleph_embed.cli import build_parser
from aleph_embed.cli_support import option_flag, options_table

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"aleph_embed": ROOT / "src", **{name: ROOT / "integrations" for name in (
    "aleph_embed_langchain", "aleph_embed_llamaindex", "aleph_embed_qdrant")}}
HEAVY = ("torch", "transformers", "qdrant_client", "langchain_core", "llama_index", "fastapi", "uvicorn")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AA_")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_importing_the_core_imports_no_framework_torch_or_qdrant() -> None:
    result = run_python(f"import sys, aleph_embed, aleph_embed.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_core_loads_what_a_name_needs_and_version_loads_no_command() -> None:
    """`import aleph_embed` is lazy (each public name loads its module on first use) and `aleph-embed --version`
    answers before any command group loads: their start-up is Python's own."""
    light = ("httpx", "pydantic", "aleph_embed.client", "aleph_embed.cli_support")
    result = run_python(
        "import sys, aleph_embed\n"
        f"print(sorted(m for m in {light!r} if m in sys.modules))\n"
        "from aleph_embed.cli import main\n"
        "main(['--version'])\n"
        f"print(sorted(m for m in {light!r} if m in sys.modules))\n"
        "from aleph_embed import EmbedClient, EmbeddingSettings\n"
        "import aleph_embed.client\n"
        "print(EmbedClient is aleph_embed.client.EmbedClient, 'EmbedClient' in dir(aleph_embed))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", f"aleph-embed {aleph_embed.__version__}", "[]",
                                          "True True"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        aleph_embed.nothing  # noqa: B018
    assert all(getattr(aleph_embed, name) is not None for name in aleph_embed.__all__)


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Modules imported when `module` is imported: module-level statements, `if TYPE_CHECKING:` blocks excluded."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + node.orelse + [s for h in getattr(node, "handlers", []) for s in h.body])
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return found


def test_no_import_cycles() -> None:
    modules: dict[str, tuple[Path, bool]] = {}
    for package, base in PACKAGES.items():
        for path in (base / package).rglob("*.py"):
            modules[_module_name(path, base)] = (path, path.name == "__init__.py")
    graph = {
        name: {m for m in _top_level_imports(ast.parse(path.read_text()), name, is_package) if m in modules and m != name}
        for name, (path, is_package) in modules.items()
    }
    assert len(graph) > 20
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


@pytest.mark.parametrize("command", ["embed", "ingest", "search", "eval", "sweep"])
def test_the_cli_offers_every_embedding_option(command: str) -> None:
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    flags = {flag for action in subcommands[command]._actions for flag in action.option_strings}
    assert {option_flag(name) for name in EmbeddingOptions.model_fields} <= flags


def test_the_readme_option_table_is_the_declaration() -> None:
    assert options_table() in (ROOT / "README.md").read_text(), "README: paste aleph_embed.cli_support.options_table()"


@pytest.mark.parametrize(
    ("arguments", "blocked", "expected"),
    [
        (["search", "q", "--collection", "c", "--host", "http://127.0.0.1:9", "--model", "m"], "qdrant_client",
         "pip install 'aleph-embed[qdrant]'"),
        (["embed", "hello"], "torch", "pip install 'aleph-embed[server]'"),
        (["embed", "", "--host", "http://127.0.0.1:9", "--model", "m"], None, "text 0 is empty"),
        (["embed", "x", "--layer", "one"], None, "invalid int value"),
    ],
)
def test_expected_conditions_are_one_line_errors_with_exit_code_2(
    arguments: list[str], blocked: str | None, expected: str
) -> None:
    block = f"sys.modules[{blocked!r}] = None\n" if blocked else ""
    result = run_python(f"import sys\n{block}from aleph_embed.cli import main\nsys.exit(main({arguments!r}))")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
