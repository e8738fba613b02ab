"""The packages the tests import are the real ones, however pytest was started.

tests/data_tools/ and tests/accel/ have no ``__init__.py`` and share their
names with top-level packages; under an editable install and plain ``pytest``
they used to shadow them as empty namespace packages.  ``pythonpath = ["."]``
in pyproject.toml prevents that (see the comment there); this checks it, and
.ci/fresh_clone checks the README's plain ``pytest`` in a fresh venv.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["refsnn", "accel", "data_tools"])
def test_top_level_packages_are_the_regular_packages_of_this_checkout(name):
    module = importlib.import_module(name)
    assert module.__file__ is not None, f"{name} was imported as a namespace package: {module.__path__}"
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"
