"""Every recipe shipped in recipes/ validates (ops, parameters, files, DAG)."""

import pytest

from pipeline.recipe import load_recipe
from tests.conftest import ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_bundled_recipe_validates(path):
    recipe = load_recipe(path)
    assert recipe.stages and recipe.name
