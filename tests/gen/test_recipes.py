"""Every bundled generation recipe loads and validates (they need an endpoint to run)."""

import pytest

from pipeline.recipe import load_recipe
from tests.conftest import ROOT

RECIPES = ["self_instruct", "alpaca_instruct", "evol_instruct", "evol_code", "unnatural_instruct",
           "guided_instruct", "orca_explanations"]


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_validates(name):
    recipe = load_recipe(ROOT / "recipes" / f"{name}.yaml")
    ops = [s.op.name for s in recipe.stages]
    assert ops[-1] == "export"
    assert any(s.op.uses_llm for s in recipe.stages)
