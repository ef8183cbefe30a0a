"""The layers import one way: data -> denoiser -> schedules/solvers/geometry/metrics -> nn
(nothing of diffusion) -> distill -> experiments -> figures, report and CLI.

Checked on the source with ``ast`` (no import is executed): every ``from .x import`` or
``import ideal_diffusion.x`` inside a module of layer L must name a module of a layer <= L.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "ideal_diffusion"

# layer rank of each top-level module / subpackage of ideal_diffusion
RANK = {
    "_rng": 0, "_validate": 0, "_threads": 0, "data": 0, "gmm_fit": 0,
    "denoiser": 1,
    "schedules": 2, "solvers": 2, "geometry": 2, "metrics": 2,
    "nn": 3,
    "distill": 4,
    "experiments": 5,
    "figures": 6, "report": 6, "__main__": 7, "__init__": 7,
}
# nn knows nothing of diffusion: it may import only from itself
NN_ALLOWED = {"nn", "_rng", "_validate", "_threads"}


def _top(module_path: Path) -> str:
    rel = module_path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imported_tops(path: Path, root: Path = PKG):
    tree = ast.parse(path.read_text(), filename=str(path))
    rel_parts = path.relative_to(root).parts
    depth = len(rel_parts) - 1  # 0 for ideal_diffusion/x.py, 1 for ideal_diffusion/sub/x.py
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                mod = node.module or ""
                if mod == "ideal_diffusion" or mod.startswith("ideal_diffusion."):
                    parts = mod.split(".")[1:]
                    names = parts[:1] or [a.name for a in node.names]
                    yield from ((n, node.lineno) for n in names)
            else:
                up = node.level - 1  # levels above the module's own package
                if up > depth:
                    continue
                base = list(rel_parts[:depth - up]) if depth - up > 0 else []
                parts = base + (node.module.split(".") if node.module else [])
                names = parts[:1] or [a.name for a in node.names]
                yield from ((n, node.lineno) for n in names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("ideal_diffusion."):
                    yield a.name.split(".")[1], node.lineno


MODULES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_run_one_way(path):
    top = _top(path)
    rank = RANK.get(top)
    assert rank is not None, f"{top} has no layer in tests/test_layers.py: add it"
    for name, line in _imported_tops(path):
        if name not in RANK:
            continue  # a name imported from the package root, e.g. __version__
        if top == "nn":
            assert name in NN_ALLOWED, f"{path.name}:{line} nn imports {name}"
        assert RANK[name] <= rank, (
            f"{path.relative_to(PKG)}:{line} imports {name} (layer {RANK[name]}) "
            f"from layer {rank}")


def test_the_checker_sees_a_violation(tmp_path):
    """The walker resolves relative imports: a distill module importing experiments is caught."""
    fake = tmp_path / "distill" / "fake.py"
    fake.parent.mkdir()
    fake.write_text("from ..experiments import common\nfrom .optima import as_grid\n"
                    "import ideal_diffusion.nn.mlp\n")
    got = [n for n, _ in _imported_tops(fake, root=tmp_path)]
    assert got == ["experiments", "distill", "nn"]
