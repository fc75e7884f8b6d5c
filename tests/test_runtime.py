"""Faster runtimes: bf16, compiled graphs (torch.compile, XLA) and the allocator setting."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest

from registry.errors import ZooError
from tests.test_cli import assert_one_line_error, zoo
from zoo import api
from zoo.imaging.metrics import psnr

RNG = np.random.default_rng(11)


def photo(size: int = 48) -> np.ndarray:
    return RNG.random((1, size, size, 3), dtype=np.float32)


def test_torch_bf16_stays_close_to_fp32():
    pytest.importorskip("torch")
    x = photo()
    fp32 = api.load("mwrcanet", preset="tiny", pretrained=False)
    bf16 = api.load("mwrcanet", preset="tiny", pretrained=False, precision="bf16")
    bf16.load_state_dict(fp32.state_dict())
    assert (bf16.precision, fp32.precision) == ("bf16", "fp32")
    out = bf16.denoise_batch(x)
    assert out.dtype == np.float32 and 30 < psnr(fp32.denoise_batch(x), out) < 200


def test_torch_compile_matches_eager_and_keeps_one_shape():
    torch = pytest.importorskip("torch")
    eager = api.load("edsr", preset="tiny", pretrained=False)
    fast = api.load("edsr", preset="tiny", pretrained=False, compile=True)
    fast.load_state_dict(eager.state_dict())
    calls = []
    inner = fast._run
    fast._run = lambda x, sigma: calls.append(tuple(x.shape)) or inner(x, sigma)
    x = np.concatenate([photo(32), photo(32), photo(32)])
    np.testing.assert_allclose(fast.denoise_batch(x), eager.denoise_batch(x), atol=1e-5)
    assert fast.compiled and set(calls) == {(1, 3, 32, 32)}  # a batch runs as single images
    torch._dynamo.reset()


def test_keras_xla_and_bf16():
    pytest.importorskip("tensorflow")
    x = photo(32)
    eager = api.load("mwrcanet", preset="tiny", pretrained=False, backend="tensorflow")
    for kwargs in ({"compile": True}, {"precision": "bf16"}):
        fast = api.load("mwrcanet", preset="tiny", pretrained=False, backend="tensorflow", **kwargs)
        fast.load_state_dict(eager.state_dict())
        out = fast.denoise_batch(x)
        assert out.dtype == np.float32 and psnr(eager.denoise_batch(x), out) > (80 if "compile" in kwargs else 30)
    assert fast.precision == "bf16"
    with pytest.raises(ZooError, match="built for bf16"):
        fast.accelerate(precision="fp32")


def test_runtimes_a_backend_lacks_are_refused_in_one_line(rgb_image):
    with pytest.raises(ZooError, match="cannot run compile"):
        api.load("cbm3d", compile=True)
    assert_one_line_error(zoo("denoise", "--model", "cbm3d", "--compile", str(rgb_image)), "cannot run compile")
    assert_one_line_error(zoo("denoise", "--precision", "fp16", str(rgb_image)), "--precision takes fp32")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is tuned on Linux only")
@pytest.mark.parametrize(("env", "expected"), [({}, "True"), ({"ZOO_MALLOC": "system"}, "False")])
def test_allocator_is_tuned_unless_asked_not_to(env, expected, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = "import zoo.inference.runtime as r; print(r.tune_allocator(), r.allocator_tuned())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if "glibc" not in " ".join(platform.libc_ver()).lower():
        pytest.skip("not glibc")
    assert out == [expected, expected]


def test_threads_reach_the_framework(rgb_image):
    code = ("from zoo.cli import app; import sys; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['denoise', '--model', 'mwrcanet', '--threads', '1', '--overwrite', sys.argv[1]]); "
            "import torch; print(r.exit_code, torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code, str(rgb_image)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["0", "1"]
    assert_one_line_error(zoo("denoise", "--threads", "0", str(rgb_image)), "--threads must be at least 1")
