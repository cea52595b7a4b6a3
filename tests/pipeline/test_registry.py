"""One registry of models: the pipeline plans from it and unknown models still display."""

import pytest

from pipeline import registry
from pipeline.config import make_config
from pipeline.workflows.study import plan_models


def test_every_model_is_defined_once_with_what_the_pipeline_and_dashboard_need():
    assert registry.MODEL_NAMES == ("cnn3", "cnn4", "mobilenetv2_frozen", "mobilenetv2_finetuned")
    for spec in registry.MODELS.values():
        assert (
            spec.label
            and spec.color.startswith("#")
            and spec.trainer
            in (
                "cnn",
                "frozen",
                "finetuned",
            )
        )
        assert spec.needs is None or spec.needs in registry.MODELS
    assert len({s.color for s in registry.MODELS.values()}) == len(registry.MODELS)


@pytest.mark.parametrize(
    "asked, planned",
    [
        (("cnn4",), ["cnn4"]),
        (("mobilenetv2_finetuned",), ["mobilenetv2_frozen", "mobilenetv2_finetuned"]),
        (
            ("mobilenetv2_finetuned", "cnn3"),
            ["cnn3", "mobilenetv2_frozen", "mobilenetv2_finetuned"],
        ),
    ],
)
def test_plans_follow_the_registry_order_and_what_each_model_needs(asked, planned):
    assert plan_models(make_config("quick", models=asked)) == planned


def test_a_model_outside_the_registry_gets_a_plain_entry():
    other = registry.spec("my_resnet")
    assert other.label == "my_resnet" and other.color == registry.OTHER_COLOR
    assert registry.in_group(["cnn3", "my_resnet", "mobilenetv2_frozen"], registry.SCRATCH) == [
        "cnn3"
    ]
