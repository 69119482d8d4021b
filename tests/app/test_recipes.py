"""Recipes: every shipped recipe validates, and each user mistake gets a message that helps."""

import re
from pathlib import Path

import pytest

from chainrule.app.recipes import RecipeError, load_recipe, parse_recipe

RECIPES = sorted(
    path
    for path in (Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml")
    if not path.name.startswith("grid-")  # sweep grids: tested in tests/sweep
)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_validates_and_builds(path):
    recipe = load_recipe(path)
    model = recipe.build_model()
    assert model.count_params() > 0
    recipe.build_optimizer()


def test_mlp_shorthand_builds_the_described_network():
    recipe = parse_recipe(
        {"model": {"hidden": [128, 64], "activation": "relu", "init": "he_normal", "dropout": 0.2}}
    )
    model = recipe.build_model()
    types = [layer.type_name for layer in model.layers]
    assert types == ["dense", "relu", "dropout", "dense", "relu", "dropout", "dense", "softmax"]
    assert model.count_params() == 109_386
    assert model.layers[0].kernel_initializer.get_config()["name"] == "he_normal"


def test_explicit_layers_and_binary_target():
    recipe = parse_recipe(
        {
            "data": {"binary_target": 7, "shape": "image"},
            "model": {
                "layers": [
                    "flatten",
                    {"type": "dense", "units": 16},
                    "relu",
                    {"type": "dense", "units": 1},
                    "sigmoid",
                ]
            },
        }
    )
    model = recipe.build_model()
    assert model.input_shape == (1, 28, 28)
    assert model.loss.type_name == "binary_crossentropy"
    assert model._fused_loss is not None


def test_same_seed_same_model():
    first = parse_recipe({"seed": 5}).build_model().params.data
    second = parse_recipe({"seed": 5}).build_model().params.data
    assert (first == second).all()


def test_learning_rate_fills_in_for_the_optimizer():
    recipe = parse_recipe({"training": {"optimizer": "momentum", "learning_rate": 0.02}})
    assert recipe.build_optimizer().learning_rate == 0.02
    explicit = parse_recipe({"training": {"optimizer": {"name": "adam", "learning_rate": 0.003}}})
    assert explicit.build_optimizer().learning_rate == 0.003


def test_overrides_set_nested_keys_from_yaml_values():
    recipe = parse_recipe({}, overrides=["model.hidden=[32, 16]", "training.epochs=3"])
    assert recipe.model.hidden == [32, 16]
    assert recipe.training.epochs == 3
    with pytest.raises(RecipeError, match="key=value"):
        parse_recipe({}, overrides=["training.epochs"])


# -- errors a user can make -------------------------------------------------------------------
def write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_the_file_and_lists_the_valid_keys(tmp_path):
    path = write(tmp_path, "model:\n  hiden: [64]\n")
    with pytest.raises(
        RecipeError, match=r"bad.yaml: unknown key 'model.hiden'; valid keys in model: hidden"
    ):
        load_recipe(path)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(
        RecipeError, match="unknown key 'trainig'; valid keys in the top level: name"
    ):
        load_recipe(write(tmp_path, "trainig: {}\n"))


def test_bad_values_name_the_key_and_the_choices(tmp_path):
    cases = {
        "model: {activation: relux}": "model.activation: unknown activation 'relux'; valid activations: identity, relu",
        "model: {init: gaussian}": "model.init: unknown initializer 'gaussian'",
        "training: {optimizer: adamx}": "training.optimizer: unknown optimizer 'adamx'; valid optimizers: sgd",
        "training: {mode: online}": "training.mode: Input should be 'minibatch', 'stochastic' or 'batch'",
        "training: {epochs: zero}": "training.epochs: Input should be a valid integer",
        "model: {hidden: [64, 0]}": "hidden widths must be positive",
        "model: {layers: [{type: dense}]}": "layer 1: layer type 'dense'",
        "model: {loss: hinge}": "unknown loss 'hinge'",
    }
    for text, message in cases.items():
        with pytest.raises(RecipeError, match="bad.yaml: " + ".*" + _escape(message)):
            load_recipe(write(tmp_path, text + "\n"))


def _escape(text):
    import re

    return re.escape(text)


def test_impossible_layer_sizes_are_reported_when_building():
    recipe = parse_recipe({"model": {"layers": [{"type": "dense", "units": 4, "input_dim": 785}]}})
    with pytest.raises(ValueError, match="input_dim=785.*784"):
        recipe.build_model()


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(write(tmp_path, "model: [\n"))
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        load_recipe(write(tmp_path, "- 1\n- 2\n"))


# -- nothing silent: two keys for one value, values of the wrong kind, bounded YAML -------------
def test_two_learning_rates_that_disagree_are_an_error_naming_both():
    optimizer = {"name": "sgd", "learning_rate": 0.1}
    with pytest.raises(
        RecipeError,
        match=r"^<recipe>: training\.learning_rate=0\.5 and "
        r"training\.optimizer\.learning_rate=0\.1 "
        r"both give the learning rate and disagree",
    ):
        parse_recipe(
            {"training": {"optimizer": optimizer}}, overrides=["training.learning_rate=0.5"]
        )
    agreeing = parse_recipe({"training": {"optimizer": optimizer, "learning_rate": 0.1}})
    assert agreeing.build_optimizer().learning_rate == 0.1


def test_shorthand_keys_beside_explicit_layers_are_an_error():
    layers = {"layers": [{"type": "dense", "units": 10}, "softmax"]}
    for key, value in [("activation", "tanh"), ("init", "he_normal"), ("dropout", 0.5),
                       ("bias_init", "normal"), ("outputs", 3)]:  # fmt: skip
        with pytest.raises(RecipeError, match=rf"model\.{key}=.* would be ignored"):
            parse_recipe({"model": {**layers, key: value}})


def test_batch_size_with_a_mode_that_ignores_it_is_an_error():
    with pytest.raises(RecipeError, match=r"training\.batch_size=128 would be ignored: training\."
                       r"mode=stochastic takes one example per step"):  # fmt: skip
        parse_recipe({"training": {"mode": "stochastic", "batch_size": 128}})
    # A batch size left at its default is no claim (a grid crosses modes over one base).
    assert parse_recipe({"training": {"mode": "batch", "batch_size": 32}}).training.mode == "batch"


def test_a_resolved_recipe_reads_back(tmp_path):
    import yaml

    for path in RECIPES:
        dumped = yaml.safe_dump(load_recipe(path).model_dump(), sort_keys=False)
        assert load_recipe(write(tmp_path, dumped)) == load_recipe(path)


def test_model_input_shape_must_agree_with_the_data():
    recipe = parse_recipe({"model": {"input_shape": [784]}})
    assert recipe.build_model((784,)).input_shape == (784,)
    with pytest.raises(RecipeError, match=r"model\.input_shape=\[784\] disagrees with the data, "
                       r"whose examples have shape \[1, 28, 28\]"):  # fmt: skip
        recipe.build_model((1, 28, 28))


def test_the_same_key_set_twice_is_an_error():
    with pytest.raises(RecipeError, match="training.epochs is given twice on the command line, "
                       "as 3 and 4; give it once"):  # fmt: skip
        parse_recipe({}, overrides=["training.epochs=3", "training.epochs=4"])
    assert (
        parse_recipe({}, overrides=["training.epochs=3", "training.epochs=3"]).training.epochs == 3
    )
    with pytest.raises(RecipeError, match=r"--set model and --set model.hidden overlap"):
        parse_recipe({}, overrides=["model={hidden: [32]}", "model.hidden=[64]"])


def _fields(kind):
    """(dotted key, annotation text) of every recipe field whose type mentions ``kind``."""
    from chainrule.app.recipes import Recipe

    found = []
    for section, field in Recipe.model_fields.items():
        nested = getattr(field.annotation, "model_fields", None)
        for name, inner in (nested or {section: field}).items():
            key = f"{section}.{name}" if nested else section
            text = str(inner.annotation)
            if kind in text.replace("bool | int", "") and "Literal" not in text:
                found.append((key, text))
    return found


INTEGER_FIELDS = _fields("int")
FLOAT_FIELDS = _fields("float")


def test_the_field_lists_are_what_the_schema_holds():
    assert {"seed", "training.epochs", "training.batch_size", "model.hidden"} <= {
        key for key, _ in INTEGER_FIELDS
    }
    assert {"training.learning_rate", "model.l2", "data.validation_fraction"} <= {
        key for key, _ in FLOAT_FIELDS
    }


@pytest.mark.parametrize(("key", "annotation"), INTEGER_FIELDS, ids=[k for k, _ in INTEGER_FIELDS])
def test_a_bool_is_not_an_integer(key, annotation):
    value = "[true]" if "list" in annotation else "true"
    with pytest.raises(RecipeError, match=rf"{re.escape(key)}(\.0)?: Input should be a valid "
                       r"integer \(got True\)"):  # fmt: skip
        parse_recipe({}, overrides=[f"{key}={value}"])


@pytest.mark.parametrize(("key", "annotation"), FLOAT_FIELDS, ids=[k for k, _ in FLOAT_FIELDS])
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_every_number_is_finite(key, annotation, value):
    with pytest.raises(RecipeError, match=rf"{re.escape(key)}: Input should be a finite number"):
        parse_recipe({}, overrides=[f"{key}={value}"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.optimizer={name: adam, learning_rate: .inf}",
         "training.optimizer.learning_rate must be a finite number, got inf"),
        ("training.schedule={name: cosine, min_learning_rate: .nan}",
         "training.schedule.min_learning_rate must be a finite number, got nan"),
        ("training.schedule={name: cosine, epochs: true}",
         "training.schedule: cosine: epochs must be an integer >= 1, got True"),
        ("training.early_stopping={patience: true}",
         "training.early_stopping: early_stopping: patience must be an integer >= 1, got True"),
        ("training.early_stopping={patiense: 3}",
         "training.early_stopping: unknown key 'patiense'; valid keys: monitor, mode, patience"),
        ("training.early_stopping={restore_best_weights: 1}",
         "restore_best_weights is true or false, got 1"),
        ("training.diagnostics=0", "training.diagnostics: diagnostics is true, false or every"),
        ("model.input_shape=[1, 0, 28]", "input_shape sizes must be positive integers"),
    ],
)  # fmt: skip
def test_nested_specs_are_checked_when_the_recipe_is_read(override, message):
    with pytest.raises(RecipeError, match=re.escape(message)):
        parse_recipe({}, overrides=[override])


def test_a_negative_seed_names_the_key_the_file_and_what_is_valid(tmp_path):
    with pytest.raises(RecipeError) as caught:
        load_recipe(write(tmp_path, "seed: -1\n"))
    message = str(caught.value)
    assert message.endswith("bad.yaml: seed: Input should be greater than or equal to 0 (got -1)")


def test_an_exponent_is_a_number_inside_mappings_too(tmp_path):
    path = write(tmp_path, "training: {optimizer: {name: adam, learning_rate: 1e-3}}\n")
    assert load_recipe(path).build_optimizer().learning_rate == 0.001


def test_yaml_problems_in_a_recipe_are_one_line_naming_the_file(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join(['*' + before] * 9)}]\n"
        for before, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = {
        bomb: "expands to more than 1,000,000 values",
        "model:\n  hidden: [64\ntraining: {}\n": ":3:9: not valid YAML: expected ',' or ']'",
        "seed: 1\nseed: 2\n": ":2:1: key 'seed' appears twice",
    }
    for text, words in cases.items():
        with pytest.raises(RecipeError) as caught:
            load_recipe(write(tmp_path, text))
        assert "\n" not in str(caught.value) and words in str(caught.value)
        assert str(caught.value).startswith(str(tmp_path / "bad.yaml"))
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(RecipeError, match=r"latin1.yaml: not UTF-8 text: byte 0xe9 at offset 9"):
        load_recipe(path)


def test_a_big_bad_value_is_echoed_short(tmp_path):
    # 111,111 values: under the expansion bound, but their repr alone is half a megabyte.
    levels = ["&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"&{name} [{', '.join(['*' + before] * 10)}]"
        for before, name in zip("abcd", "bcde", strict=True)
    ]
    path = write(tmp_path, f"training: {{epochs: [{', '.join(levels)}]}}\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert "training.epochs: Input should be a valid integer" in str(caught.value)
    assert len(str(caught.value)) < len(str(path)) + 200
    hidden = "model: {hidden: [" + ", ".join(["x"] * 10_000) + "]}\n"
    with pytest.raises(RecipeError, match=r"; and 9997 more problems$"):
        load_recipe(write(tmp_path, hidden))


# --- your own data and the built-in 2-D sets -----------------------------------------------------


def test_a_toy_set_s_settings_are_data_keys_and_every_default_is_written_in():
    recipe = parse_recipe({"data": {"dataset": "spirals", "turns": 2.0}})
    data = recipe.data
    assert (data.turns, data.n, data.noise, data.classes) == (2.0, 600, 0.03, 2)
    assert data.margin is None and data.centers is None  # settings of other sets stay unset
    assert recipe.build_model().input_shape == (2,)
    assert recipe.default_outputs() == 2
    blobs = parse_recipe({"data": {"dataset": "blobs", "centers": 5}})
    assert blobs.build_model().output_shape == (5,)


def test_the_data_keys_cover_every_setting_of_every_toy_set():
    from chainrule.app.recipes import TOY_KEYS, DataConfig
    from chainrule.data import TOY_DATASETS

    settings = {param.name for toy in TOY_DATASETS.values() for param in toy.params}
    assert settings == set(TOY_KEYS) <= set(DataConfig.model_fields)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"dataset": "moons", "factor": 0.3},
            "data.factor is not a setting of moons; its settings: data.n, data.noise",
        ),
        ({"dataset": "moons", "noise": -0.5}, "data.noise must be a number >= 0.0, got -0.5"),
        ({"dataset": "moons", "n": 2}, "data.n must be an integer from 4 to 1000000, got 2"),
        ({"dataset": "blobs", "centers": 5, "n": 9}, "data.n must be at least 10 (two points"),
        (
            {"dataset": "mnist", "noise": 0.1},
            "data.noise is a setting of the built-in 2-D datasets (xor, moons, circles, spirals, "
            "blobs), not of 'mnist'; remove it",
        ),
        (
            {"dataset": "moons", "label_column": "y"},
            "data.label_column='y' would be ignored: it applies to a .csv file",
        ),
        (
            {"dataset": "arrays.npz", "test_file": "t.csv"},
            "data.test_file='t.csv' would be ignored: it applies to a .csv file",
        ),
        ({"dataset": "moons", "n": 10.5}, "data.n: Input should be a valid integer"),
        ({"dataset": "moons", "test_fraction": 1.0}, "data.test_fraction: Input should be less"),
    ],
)
def test_bad_data_keys_name_the_key(data, message):
    with pytest.raises(RecipeError) as error:
        parse_recipe({"data": data}, source="r.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("r.yaml: ")


def test_a_resolved_toy_recipe_reads_back():
    recipe = parse_recipe({"data": {"dataset": "xor", "noise": 0.2}})
    assert parse_recipe(recipe.model_dump()) == recipe
