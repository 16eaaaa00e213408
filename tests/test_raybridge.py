"""The one module that touches Ray's private APIs: fails loudly when a Ray upgrade moves them."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT

ray = pytest.importorskip("ray")


def test_ray_still_has_everything_spotray_uses():
    from spotray._local._raybridge import check_compatible

    assert check_compatible() == []


def test_the_pinned_ray_is_the_one_tested():
    from spotray._local._raybridge import RAY_VERSION_TESTED

    pin = re.search(r'"ray\[default\]==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin and pin[1] == RAY_VERSION_TESTED == ray.__version__
