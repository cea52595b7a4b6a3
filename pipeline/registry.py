"""Every model the study knows, defined once: what it is called, how it is shown, what it
is measured against, and which trainer makes it.

Adding a model is one entry here (and its builder in `pipeline/models.py` and trainer in
`pipeline/train.py`); the pipeline plans, trains and records it, and the dashboard shows
whatever models a run holds. Importing this module has no side effects.
"""

from __future__ import annotations

from dataclasses import dataclass

SCRATCH = "from scratch"
PRETRAINED = "pretrained"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    group: str  # SCRATCH or PRETRAINED
    color: str
    trainer: str  # "cnn", "frozen" or "finetuned" (see pipeline.workflows.study)
    reference_accuracy: float | None = None  # the Kaggle notebook's validation accuracy
    needs: str | None = None  # a model that must be trained first, in the same run

    @property
    def uses_backbone(self) -> bool:
        return self.group == PRETRAINED


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "cnn3", "CNN-3", SCRATCH, color="#1f77b4", trainer="cnn", reference_accuracy=0.7977
        ),
        ModelSpec(
            "cnn4", "CNN-4", SCRATCH, color="#ff7f0e", trainer="cnn", reference_accuracy=0.8617
        ),
        ModelSpec(
            "mobilenetv2_frozen",
            "MobileNetV2 frozen",
            PRETRAINED,
            color="#2ca02c",
            trainer="frozen",
            reference_accuracy=0.9848,
        ),
        ModelSpec(
            "mobilenetv2_finetuned",
            "MobileNetV2 fine-tuned",
            PRETRAINED,
            color="#d62728",
            trainer="finetuned",
            reference_accuracy=0.9854,
            needs="mobilenetv2_frozen",
        ),
    )
}
MODEL_NAMES = tuple(MODELS)
OTHER_COLOR = "#7f7f7f"


def spec(name: str) -> ModelSpec:
    """The model's entry; a model the registry does not know gets a plain one."""
    return MODELS.get(name) or ModelSpec(name, name, "other", color=OTHER_COLOR, trainer="none")


def in_group(names: list[str], group: str) -> list[str]:
    return [n for n in names if spec(n).group == group]
