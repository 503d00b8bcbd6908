"""The architecture as contracts: each layer of dmarc_core imports only what its docstring allows,
and the public API is lazy, so a one-line answer loads no data frame or DNS code."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from conftest import ROOT

LIBRARY = ROOT / "dmarc_core"
#: Third-party packages each layer may import (the standard library is always allowed).
THIRD_PARTY = {
    "rules": {"idna", "tldextract"},
    "reports": {"lxml", "pyarrow"},
    "lookups": {"dns", "idna", "spf"},
    "analysis": {"pandas", "numpy", "pyarrow"},
    "message": {"dkim", "authres", "spf"},
    "history": {"duckdb", "pyarrow", "pandas", "numpy", "imapclient", "dask", "distributed"},
}
#: Layers of dmarc_core each layer may import at run time (type hints aside).
INTERNAL = {
    "rules": set(),
    "reports": set(),
    "lookups": {"rules"},
    "analysis": {"rules", "reports"},
    "message": {"rules", "lookups"},
    "history": {"rules", "reports", "analysis"},
}
KNOWN_THIRD_PARTY = {
    "idna",
    "tldextract",
    "lxml",
    "pyarrow",
    "dns",
    "pandas",
    "numpy",
    "streamlit",
    "plotly",
    "dkim",
    "authres",
    "spf",
}


def _imports(path) -> list[tuple[str, int]]:
    """(what, level) of every import that runs when the module loads or a function is called;
    imports under ``if TYPE_CHECKING:`` are left out."""
    tree = ast.parse(path.read_text("utf-8"))
    skipped = {
        id(node)
        for guard in ast.walk(tree)
        if isinstance(guard, ast.If) and ast.unparse(guard.test) == "TYPE_CHECKING"
        for node in ast.walk(guard)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def _layer_of(module: str, level: int, layer: str) -> str | None:
    """The dmarc_core layer an import inside ``layer`` reaches, if any."""
    if level == 1:
        return layer
    if level == 2:
        return module.split(".")[0] or None
    if module.startswith("dmarc_core."):
        return module.split(".")[1]
    return None


@pytest.mark.parametrize("layer", sorted(THIRD_PARTY))
def test_each_layer_imports_only_what_it_may(layer):
    modules = sorted((LIBRARY / layer).glob("*.py"))
    assert modules
    for path in modules:
        for module, level in _imports(path):
            reached = _layer_of(module, level, layer)
            if reached is not None:
                assert reached in INTERNAL[layer] | {layer, ""}, f"{path.name} imports the {reached} layer"
            elif level == 0:
                top = module.split(".")[0]
                if top in KNOWN_THIRD_PARTY or top not in sys.stdlib_module_names:
                    assert top in THIRD_PARTY[layer], f"{path.relative_to(ROOT)} imports {top}"


def test_every_module_belongs_to_a_layer():
    loose = {path.name for path in LIBRARY.glob("*.py")}
    assert loose == {"__init__.py", "__main__.py", "_cli.py"}, "a new module goes into one of the layers"
    assert {path.name for path in LIBRARY.iterdir() if path.is_dir() and path.name != "__pycache__"} == {*THIRD_PARTY, "data"}


def test_the_rules_never_import_pandas_dnspython_or_streamlit_even_indirectly():
    loaded = _modules_after(
        "import dmarc_core.rules.evaluation, dmarc_core.rules.scenario, dmarc_core.rules.dkim_key, "
        "dmarc_core.rules.dmarc_record, dmarc_core.rules.knowledge"
    )
    assert not loaded & {"pandas", "numpy", "pyarrow", "lxml", "dns", "streamlit", "plotly"}


def test_report_reading_never_loads_the_rules():
    loaded = _modules_after("import dmarc_core.reports.reading")
    assert "dmarc_core.rules" not in loaded and "pandas" not in loaded


@pytest.mark.parametrize(
    "use",
    [
        "import dmarc_core",
        "from dmarc_core import check_alignment, evaluate_dmarc, organizational_domain, parse_dmarc_record",
        "from dmarc_core._cli import main; main(['align', 'user@example.com', 'mail.example.com'])",
        "from dmarc_core._cli import main; main(['evaluate', 'example.com', '--dkim', 'mcsv.net:pass'])",
    ],
)
def test_one_line_answers_import_no_data_frames_or_dns(use):
    loaded = _modules_after(use)
    assert not loaded & {"pandas", "numpy", "pyarrow", "plotly", "dns", "lxml"}


def test_the_public_api_is_complete_and_lazy():
    import dmarc_core

    for name in dmarc_core.__all__:
        assert getattr(dmarc_core, name) is not None, name
    with pytest.raises(AttributeError):
        dmarc_core.no_such_name  # noqa: B018


def _modules_after(code: str) -> set[str]:
    """Top-level names (and dmarc_core's layers) of the modules loaded by ``code`` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    names = result.stdout.splitlines()
    return {name.split(".")[0] for name in names} | {
        ".".join(name.split(".")[:2]) for name in names if name.startswith("dmarc_core.")
    }


#: The rules import each other one way (rules/__init__.py): a module only what stands before it.
RULES_ORDER = {
    "knowledge": 0, "domains": 0, "wording": 0,
    "alignment": 1, "dkim_key": 1, "dmarc_record": 1,
    "diagnosis": 2, "evaluation": 3, "scenario": 4,
}  # fmt: skip


def test_the_rules_import_each_other_one_way():
    assert {path.stem for path in (LIBRARY / "rules").glob("*.py")} - {"__init__"} == set(RULES_ORDER)
    for path in (LIBRARY / "rules").glob("*.py"):
        for module, level in _imports(path):
            if level == 1 and module:
                assert RULES_ORDER[module] < RULES_ORDER[path.stem], f"rules/{path.name} imports {module}"


def test_the_pages_and_ui_only_draw():
    # They reach the domain through dmarc_core; no XML, DNS, Arrow or Public Suffix List of their
    # own, nothing private of the library, and the library never imports them.
    pages = [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    for path in pages:
        tree = ast.parse(path.read_text("utf-8"))
        for module, _ in _imports(path):
            assert module.split(".")[0] not in {"lxml", "dns", "pyarrow", "tldextract", "idna"}, f"{path.name} imports {module}"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dmarc_core"):
                assert not any(alias.name.startswith("_") for alias in node.names), f"{path.name}: {ast.unparse(node)}"
    for path in LIBRARY.rglob("*.py"):
        assert not any(module.split(".")[0] in {"ui", "app_pages"} for module, _ in _imports(path)), path
