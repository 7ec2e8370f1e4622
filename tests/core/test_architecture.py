"""The structure the project promises: light core import, no import cycles, one declaration of each option,
and clear one-line errors (exit code 2) instead of tracebacks for the CLI's expected conditions."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import aleph_embed
from aleph_embed import EmbeddingOptions
from aleph_embed.cli import build_parser
from aleph_embed.cli_support import option_flag, options_table

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    path.name: path.parent for base in ("src", "integrations") for path in (ROOT / base).iterdir()
    if path.name.isidentifier() and not path.name.startswith("_") and next(path.rglob("*.py"), None)
}
"""Every package of the project, found by listing `src/` and `integrations/` (a new one is covered as it lands;
namespace packages such as `haystack_integrations`, without `__init__.py`, too)."""
HEAVY = (
    "torch", "transformers", "qdrant_client", "langchain_core", "llama_index", "haystack", "haystack_integrations",
    "pydantic_ai", "fastapi", "uvicorn", "ray",
)


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


def test_help_builds_every_command_without_pydantic_httpx_or_the_engine() -> None:
    """`aleph-embed --help` lists every command without importing what running one needs (issue 22: start-up); a
    command's own help still shows its embedding options (added once it is chosen)."""
    heavy = ("httpx", "pydantic", "ssl", "qdrant_client", "aleph_embed.client", "aleph_embed.ingest.engine")
    result = run_python(
        "import contextlib, io, sys\n"
        "from aleph_embed.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['--help'])\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), 'ingest' in out.getvalue())\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "[] True"
    ingest_help = next(a for a in build_parser()._actions if a.dest == "command").choices["ingest"].format_help()
    assert all(option_flag(name) in ingest_help for name in EmbeddingOptions.model_fields)
    assert "--host" in ingest_help


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Modules `module` imports, at import time or later (imports inside functions too); `if TYPE_CHECKING:` blocks
    excluded, and the module's own parent packages (always imported before it)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    parents = {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)}
    return found - parents - {module}


def import_graph(*, every_name: bool = False) -> dict[str, set[str]]:
    """Each module of every package and the project modules it imports (`every_name`: and the names it imports
    from them)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for package, base in PACKAGES.items():
        for path in (base / package).rglob("*.py"):
            modules[_module_name(path, base)] = (path, path.name == "__init__.py")
    return {
        name: {
            m for m in _imports(ast.parse(path.read_text()), name, is_package)
            if m in modules or (every_name and m.rpartition(".")[0] in modules)
        }
        for name, (path, is_package) in modules.items()
    }


def test_every_package_is_covered() -> None:
    assert {
        "aleph_embed", "aleph_embed_langchain", "aleph_embed_llamaindex", "aleph_embed_qdrant", "aleph_embed_pydantic_ai",
        "haystack_integrations",
    } <= set(PACKAGES)
    graph = import_graph()
    assert {
        "aleph_embed.client", "aleph_embed.server.app", "aleph_embed_qdrant.cli",
        "haystack_integrations.components.embedders.aleph_alpha.text_embedder",
    } <= set(graph)
    assert "aleph_embed._tokenizers" in graph["aleph_embed.transport"]  # imported inside a function only


KNOWN_CYCLES: set[frozenset[str]] = set()
"""Cycles through deferred imports allowed: none (the last one, `aleph_embed_qdrant.cli` <-> `cli_store`, went with
issue 17's ingest move)."""


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The import cycles of `graph`: its strongly connected components of more than one module (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def connect(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph[module]:
            if imported not in order:
                connect(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(frozenset(component))

    for module in graph:
        if module not in order:
            connect(module)
    return found


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_no_import_cycles_counting_deferred_imports() -> None:
    found = set(cycles(import_graph()))
    assert not found - KNOWN_CYCLES, f"import cycles: {[sorted(cycle) for cycle in found - KNOWN_CYCLES]}"
    assert KNOWN_CYCLES <= found, f"gone, remove from KNOWN_CYCLES: {[sorted(c) for c in KNOWN_CYCLES - found]}"


UNDERSCORE_IMPORTS_LEFT: set[str] = set()
"""Packages still importing underscore names of another package: none (the kept aliases `aleph_embed._config` and
`aleph_embed.chunking._ChunkRounds` serve users' code only)."""


def test_packages_use_each_others_public_names_only() -> None:
    crossing = {
        (module, imported)
        for module, imports in import_graph(every_name=True).items()
        for imported in imports
        if imported.partition(".")[0] != module.partition(".")[0] and module.partition(".")[0] not in UNDERSCORE_IMPORTS_LEFT
        and any(part.startswith("_") for part in imported.split("."))
    }
    assert not crossing, f"underscore names imported across packages: {sorted(crossing)}"


@pytest.mark.parametrize("command", ["embed", "ingest", "search", "eval", "sweep"])
def test_the_cli_offers_every_embedding_option(command: str) -> None:
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    subcommands[command].format_help()  # the embedding options are added once a command is chosen or shown
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
