"""Torch twins: every shipped graph's eager torch twin computes what onnxruntime computes."""
import numpy as np
import pytest
import torch
from onnx import TensorProto, helper

from engine.core import runtime
from engine.nn.twins import OnnxInterpreter, torch_twin

BATCH = 3
SIDE = 64    # height and width of the photo models, whose spatial axes are dynamic


@pytest.mark.parametrize("name", sorted(runtime.available_models()))
def test_twin_matches_onnxruntime(name):
    session = runtime.session(name, precision="float")
    rng = np.random.default_rng(0)
    feed = {i.name: rng.random((BATCH, *[d if isinstance(d, int) else SIDE for d in i.shape[1:]]), dtype=np.float32)
            for i in session.get_inputs()}
    expected = session.run(None, feed)
    with torch.no_grad():
        got = torch_twin(name)(*(torch.from_numpy(x) for x in feed.values()))
    assert len(got) == len(expected) == len(session.get_outputs())
    for want, have in zip(expected, got):
        assert tuple(have.shape) == want.shape
        np.testing.assert_allclose(have.numpy(), want, rtol=0, atol=1e-4)


def test_interpreter_names_an_unknown_operator():
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["output"])], "relu",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])])
    with pytest.raises(ValueError, match="Relu"):
        OnnxInterpreter(helper.make_model(graph))
