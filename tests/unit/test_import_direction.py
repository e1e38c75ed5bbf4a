"""Dependencies point one way: every import under `service/` is one that docs/architecture.md's
table allows (events <- projections <- store <- application <- api, web, cli)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "service"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
_TABLE_HEADING = "## What each package may import"
_ROW = re.compile(r"^\|\s*`(?P<package>[\w.]+)`\s*\|(?P<allowed>[^|]*)\|\s*$")
_NAME = re.compile(r"`([\w.]+)`")
_FRAMEWORKS = ("fastapi", "starlette", "jinja2", "typer", "rich", "uvicorn")


def allowed_imports(document: str) -> dict[str, tuple[str, ...]]:
    """The table under `_TABLE_HEADING`: package -> the packages and modules it may import."""
    section = document.split(_TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[str, ...]] = {}
    for line in section.splitlines():
        row = _ROW.match(line)
        if row is not None:
            table[row["package"]] = tuple(_NAME.findall(row["allowed"]))
    return table


def module_name(path: Path) -> str:
    """`service/api/app.py` -> `service.api.app`; a package's `__init__` is the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """The package of the table a module belongs to: `service.<first name>`."""
    return ".".join(module.split(".")[:2])


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth (functions too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            # The project imports absolutely; a relative import would escape this check.
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            assert node.module is not None
            yield node.lineno, node.module
            # `from service.api import routes` imports the module `service.api.routes`.
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _inside(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def _is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of the project (not an attribute)."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(table: dict[str, tuple[str, ...]]) -> Iterator[str]:
    """Every import under `service/` that the table does not allow."""
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        layer = layer_of(importer)
        for line, imported in imports_of(path):
            if not imported.startswith("service.") or not _is_module(imported):
                continue
            if layer_of(imported) == layer:
                continue
            if layer not in table:
                yield f"{importer}: its package {layer} is not in the table"
            elif not any(_inside(imported, allowed) for allowed in table[layer]):
                yield f"{importer}:{line} imports {imported}, which {layer} may not"


@pytest.fixture(scope="module")
def table() -> dict[str, tuple[str, ...]]:
    return allowed_imports(ARCHITECTURE.read_text(encoding="utf-8"))


def test_the_table_names_every_package(table: dict[str, tuple[str, ...]]) -> None:
    layers = {layer_of(module_name(path)) for path in PACKAGE.rglob("*.py")} - {"service"}
    assert layers <= set(table), f"add to docs/architecture.md: {sorted(layers - set(table))}"
    assert table["service.application"], "the table was read"


def test_every_import_points_the_allowed_way(table: dict[str, tuple[str, ...]]) -> None:
    assert list(violations(table)) == []


def test_the_application_knows_no_framework() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((PACKAGE / "application").rglob("*.py"))
        for line, name in imports_of(path)
        if name.split(".")[0] in _FRAMEWORKS
    ]
    assert found == []


def test_only_the_app_factory_installs_the_dashboard() -> None:
    found = [
        f"{module_name(path)}:{line} imports {name}"
        for path in sorted((PACKAGE / "api").rglob("*.py"))
        for line, name in imports_of(path)
        if _inside(name, "service.web") and _is_module(name)
        if module_name(path) != "service.api.app" or name != "service.web"
        # Checking a dashboard session (the live feed accepts one) installs nothing.
        if name != "service.web.sessions"
    ]
    assert found == []


def test_the_app_factory_imports_no_route_module() -> None:
    found = [
        name
        for _line, name in imports_of(PACKAGE / "api" / "app.py")
        if name.startswith("service.api.routes.") and _is_module(name)
    ]
    assert found == []


def test_a_forbidden_import_is_found(table: dict[str, tuple[str, ...]]) -> None:
    # The check itself: the dashboard reaching into a route module is named.
    narrowed = {**table, "service.web": ("service.application",)}
    assert any(
        "service.web." in found and "service.api." in found for found in violations(narrowed)
    )


_COLLABORATORS = frozenset(
    {
        "open_database",
        "open_read_engine",
        "create_engine",
        "Projector",
        "EventAppender",
        "MeteredAppender",
        "EventReader",
        "KeyStore",
        "WebhookInbox",
        "ReadMirror",
    }
)
_BUILDERS = ("service/store/", "service/runtime.py", "service/application/bootstrap.py")


def test_only_bootstrap_builds_the_collaborators() -> None:
    # The store builds its own parts; outside it, `bootstrap` alone opens the database and
    # builds what the use cases share (`Services.read_log` makes a reader on the replica).
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(_BUILDERS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if name in _COLLABORATORS:
                    found.append(f"{where} {name}")
    assert found == ["service/application/services.py EventReader"]
