"""The README's layout and docs/architecture.md name every package, top-level module and document
of the tree, so a new one cannot land undescribed."""

from pathlib import Path

import expertune

PACKAGE = Path(expertune.__file__).parent
ROOT = PACKAGE.parents[1]


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Layout")
    return readme[start:readme.index("## ", start + 3)]


def test_the_readme_layout_and_the_architecture_name_every_package():
    layout = _layout_block()
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert [p for p in packages if f"  {p}/" not in layout] == []
    # presets/ holds YAML only; every Python package has its row in the table of what it owns.
    assert [p for p in packages if (PACKAGE / p / "__init__.py").exists() or any((PACKAGE / p).glob("*.py"))
            if f"`{p}/`" not in architecture] == []


def test_the_readme_layout_names_every_top_level_module_and_document():
    layout = _layout_block()
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__"))
    assert [m for m in modules if m not in layout] == []
    documents = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [d for d in documents if d not in layout] == []
