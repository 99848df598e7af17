"""Export: one self-contained ONNX file, dynamic axes, metadata, and torch/onnxruntime parity."""
import numpy as np
import onnx
import pytest
import torch

from engine.core.runtime import atomic_write_bytes, new_session
from engine.nn.checkpoints import checkpoint, from_checkpoint
from engine.nn.export import ParityError, check_parity, export_onnx, pca_to_onnx
from engine.nn.layers import CharAutoencoder, CharAutoencoderConfig
from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig


def _run(path, x):
    session = new_session(str(path))
    return session.run(None, {"input": x.astype(np.float32)})[0]


def test_char_autoencoder_shapes_and_named_outputs():
    model = CharAutoencoder(CharAutoencoderConfig(code_size=16))
    out = model(torch.rand(3, 1, 28, 28))
    assert out["reconstruction"].shape == (3, 1, 28, 28)
    assert out["code"].shape == (3, 16)
    assert 0 <= float(out["reconstruction"].detach().min()) and float(out["reconstruction"].detach().max()) <= 1


@pytest.mark.slow
def test_char_export_parity_dynamic_batch_and_metadata(tmp_path):
    torch.manual_seed(0)
    model = CharAutoencoder(CharAutoencoderConfig(code_size=8, channels=(8, 16)))
    path = tmp_path / "char.onnx"
    export_onnx(model, path, example=torch.rand(2, 1, 28, 28), metadata={"task": "denoise", "n": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["char.onnx"]  # one file, no temp left
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta == {"task": "denoise", "n": "3"}
    for batch in (1, 5, 64):
        x = np.random.default_rng(batch).random((batch, 1, 28, 28), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x))["reconstruction"].numpy()
        np.testing.assert_allclose(_run(path, x), expected, atol=1e-5)


@pytest.mark.slow
def test_photo_export_takes_any_size_multiple_of_eight(tmp_path):
    torch.manual_seed(0)
    model = PhotoDenoiser(PhotoDenoiserConfig(width=8))
    path = tmp_path / "photo.onnx"
    sizes = [(1, 4, 8, 8), (2, 4, 32, 40), (1, 4, 136, 88)]
    parity = [np.random.default_rng(i).random(s, dtype=np.float32) for i, s in enumerate(sizes)]
    export_onnx(model, path, example=torch.rand(2, 4, 32, 32), spatial_multiple=8, parity_inputs=parity)
    x = np.random.default_rng(9).random((3, 4, 200, 56), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x))["reconstruction"].numpy()
    np.testing.assert_allclose(_run(path, x), expected, atol=1e-4)


def test_parity_check_catches_a_different_model(tmp_path):
    torch.manual_seed(0)
    a = CharAutoencoder(CharAutoencoderConfig(code_size=8, channels=(8, 16)))
    b = CharAutoencoder(CharAutoencoderConfig(code_size=8, channels=(8, 16)))
    data = export_onnx(a, tmp_path / "a.onnx", example=torch.rand(2, 1, 28, 28))
    from engine.nn.export import _Serving
    with pytest.raises(ParityError):
        check_parity(_Serving(b, ("reconstruction",)), data, [np.random.rand(2, 1, 28, 28).astype(np.float32)], 1e-4)


def test_export_refuses_batch_of_one(tmp_path):
    with pytest.raises(ValueError, match="batch"):
        export_onnx(CharAutoencoder(CharAutoencoderConfig()), tmp_path / "x.onnx", example=torch.rand(1, 1, 28, 28))


def test_checkpoint_round_trip():
    model = CharAutoencoder(CharAutoencoderConfig(code_size=12, channels=(8, 16)))
    copy = from_checkpoint(checkpoint(model))
    x = torch.rand(2, 1, 28, 28)
    assert copy.config == model.config
    assert torch.equal(copy(x)["reconstruction"], model.eval()(x)["reconstruction"])


def test_pca_onnx_matches_scikit_learn(tmp_path):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    train = rng.random((300, 784)).astype(np.float32) * rng.random((1, 784)).astype(np.float32)
    pca = PCA(n_components=10, random_state=0).fit(train)
    path = tmp_path / "pca.onnx"
    path.write_bytes(pca_to_onnx(pca.mean_, pca.components_, (1, 28, 28), metadata={"task": "x"}))
    x = rng.random((4, 784)).astype(np.float32)
    expected = np.clip(pca.inverse_transform(pca.transform(x)), 0, 1).reshape(4, 1, 28, 28)
    np.testing.assert_allclose(_run(path, x.reshape(4, 1, 28, 28)), expected, atol=1e-5)


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_export_does_not_log_torchvision_warnings(caplog):
    torch.manual_seed(0)
    model = CharAutoencoder(CharAutoencoderConfig(code_size=4, channels=(4, 8)))
    with caplog.at_level("WARNING"):
        export_onnx(model, None, example=torch.rand(2, 1, 28, 28))
    assert not [r for r in caplog.records if "torchvision" in r.getMessage()]
