"""Bad input raises the right exception, with the CLI's one-line message,
and Ctrl-C stops a long call with KeyboardInterrupt, leaving no
half-written output."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import parana

from conftest import ROOT, cli


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        parana.Model.load(tmp_path / "nope.safetensors")
    assert isinstance(e.value, parana.ParanaError)
    assert "nope.safetensors" in str(e.value)


def test_corrupt_file_is_value_error_with_the_cli_message(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError) as e:
        parana.Model.load(bad)
    assert isinstance(e.value, parana.ParanaError)
    p = cli("inspect", "--model", bad, check=False)
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {e.value}"


def test_bad_settings_and_shapes_are_value_errors(work):
    m = parana.Model.load(work["model"])
    with pytest.raises(ValueError, match="unknown pruning method|method"):
        parana.prune(m, method="nope", ratio=0.5)
    with pytest.raises(ValueError, match="ratio"):
        parana.sweep(m, work["noise"], methods="act", ratios="0:1:0", progress=False)
    with pytest.raises(ValueError, match="do not fit"):
        m.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="classes"):
        parana.fgsm(m, np.zeros((2, 784), np.float32), [0, 12], 0.1)
    with pytest.raises(parana.ParanaError, match="unknown dataset|nope"):
        parana.load_dataset("nope")


def test_contiguous_float32_inputs_are_not_copied():
    from parana import _inputs

    x = np.zeros((3, 784), np.float32)
    assert _inputs(x) is x
    assert _inputs(x[:, ::2]).flags.c_contiguous


def test_ctrl_c_stops_training_with_keyboard_interrupt(tmp_path, mnist):
    out = tmp_path / "m.safetensors"
    # Python leaves SIGINT ignored when it starts with it ignored (as in a
    # job started with `&` by a non-interactive shell, e.g. CI in the
    # background): restore the handler an interactive session has.
    code = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import parana, sys\n"
        "try:\n"
        f"    parana.train(hidden=[64], steps=10**7, checkpoint_every=20, out={str(out)!r}, progress=False)\n"
        "except KeyboardInterrupt as e:\n"
        "    print('KeyboardInterrupt', e); sys.exit(3)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / "m.ckpt.safetensors"
    # Wait until training is under way (its first checkpoint), then Ctrl-C.
    while not ckpt.exists() and p.poll() is None:
        time.sleep(0.05)
    assert p.poll() is None, p.communicate()
    os.kill(p.pid, signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 3, stderr
    assert "KeyboardInterrupt" in stdout
    # The model was never written, nor any temporary file left; the
    # checkpoint (written atomically) is there to resume from.
    assert not out.exists()
    left = set(os.listdir(tmp_path))
    assert "m.ckpt.safetensors" in left and left <= {"m.ckpt.safetensors", "m.log.csv"}, left
