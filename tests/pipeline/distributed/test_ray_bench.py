"""The scale-out projection: known answers on made-up costs."""

import pytest

from pipeline.distributed.ray_bench import Costs, project

COSTS = Costs(
    photos=1000,
    train_photos=800,
    photo_passes=1000,
    decode_s=0.01,  # 10 s for all photos on one worker
    extract_s=0.02,  # 20 s
    workers_per_node=2,
    scaling=1.0,
    train_s={
        "cnn3": 0.001,
        "cnn4": 0.002,
        "mobilenetv2_frozen": 0.0001,
        "mobilenetv2_finetuned": 0.003,
    },
    epochs={"cnn3": 10, "cnn4": 10, "mobilenetv2_frozen": 10, "mobilenetv2_finetuned": 5},
)
# Training seconds at scale 1: cnn3 8, cnn4 16, frozen 0.8 + fine-tuned 12 = 12.8.


def test_one_node_does_everything_in_turn():
    got = project(COSTS, 1, 1)
    assert got["photo work"] == pytest.approx((10 + 20) / 2)
    assert got["training"] == pytest.approx(8 + 16 + 12.8)
    assert got["total"] == pytest.approx(15 + 36.8)


def test_nodes_divide_the_photo_work_and_train_the_models_side_by_side():
    got = project(COSTS, 1, 4)
    assert got["photo work"] == pytest.approx(30 / 8)
    assert got["training"] == pytest.approx(16)  # the longest model, cnn4, alone
    two = project(COSTS, 1, 2)
    assert two["training"] == pytest.approx(max(16, 8 + 12.8))


def test_more_photos_cost_proportionally_more():
    assert project(COSTS, 10, 16)["total"] == pytest.approx(10 * project(COSTS, 1, 16)["total"])


def test_imperfect_scaling_of_workers_slows_the_photo_work():
    slower = Costs(**{**COSTS.__dict__, "scaling": 0.5})
    assert project(slower, 1, 1)["photo work"] == pytest.approx(30)
