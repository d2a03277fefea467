"""The wheel: builds, installs, carries its package data and its command.

`python -m build --no-isolation` makes the sdist and, from it, the wheel
(no network: the installed setuptools builds). The wheel goes into a
fresh venv with `--no-deps`; that venv sees the test environment's
site-packages through a `.pth` path line, which (unlike a site dir) does
not run their `.pth` files, so the editable checkout stays out of sight
and only the wheel's `keras_deconvnet` can answer.
"""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest

import keras_deconvnet
from keras_deconvnet.__main__ import COMMANDS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK_INSTALLED = """
import os, sys
import keras_deconvnet
model = keras_deconvnet.DeconvNet(num_classes=3, width=0.0625)
path = os.path.join(sys.argv[1], "tiny.keras")
model.save(path)
loaded = keras_deconvnet.load(path)
print(keras_deconvnet.__file__)
print(keras_deconvnet.__version__, loaded.name, loaded.output_shape[-1])
"""


def tracked_package_data():
    """Non-Python files git tracks inside the package: they must ship."""
    listed = subprocess.run(
        ["git", "ls-files", "keras_deconvnet"], cwd=ROOT,
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return [path for path in listed if not path.endswith(".py")]


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path):
    if not os.path.isdir(os.path.join(ROOT, ".git")) and not os.path.isfile(
        os.path.join(ROOT, ".git")
    ):
        pytest.skip("needs a git checkout (the tracked files)")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir",
         str(dist), ROOT],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    # setuptools < 69 spells the sdist with a hyphen, later ones with "_".
    version = keras_deconvnet.__version__
    names = {name.replace("keras-", "keras_") for name in os.listdir(dist)}
    assert names == {f"keras_deconvnet-{version}-py3-none-any.whl",
                     f"keras_deconvnet-{version}.tar.gz"}
    wheel = dist / f"keras_deconvnet-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        members = set(archive.namelist())
    for path in tracked_package_data():
        assert path in members, f"{path} is missing from the wheel"
    assert not any(m.startswith(("tests/", "training/", "benchmarks/"))
                   for m in members)

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = str(environment / "bin" / "python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()"
         "['purelib'])"], capture_output=True, text=True, check=True,
    ).stdout.strip()
    # pip --python runs with its own site-packages (the test environment's)
    # in sight, where the editable keras-deconvnet would count as installed.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install",
         "--quiet", "--no-deps", "--no-index", "--ignore-installed",
         str(wheel)],
        capture_output=True, text=True, check=True,
    )
    with open(os.path.join(site_packages, "test_environment.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    # Run from an empty folder so the checkout is not on the path either.
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = str(environment / "bin" / "keras-deconvnet")
    shown = subprocess.run(
        [command, "--help"], capture_output=True, text=True, check=True,
        cwd=run_dir, env=clean_env,
    ).stdout
    assert shown.startswith("usage: keras-deconvnet")
    # Every command ships in the wheel (none lives only in the checkout).
    for name in COMMANDS:
        assert f"\n  {name} " in shown
        usage = subprocess.run(
            [command, name, "--help"], capture_output=True, text=True,
            check=True, cwd=run_dir, env=clean_env,
        ).stdout
        assert usage.startswith(f"usage: keras-deconvnet {name}"), usage
    checked = subprocess.run(
        [python, "-c", CHECK_INSTALLED, str(tmp_path)], capture_output=True,
        text=True, check=True, cwd=run_dir, env=clean_env,
    ).stdout.strip().splitlines()
    assert checked[-2].startswith(site_packages), checked
    assert checked[-1] == f"{version} deconvnet 3"


def test_longest_modules_named_for_scheduling_exist():
    # A renamed module would silently fall back to xdist's order.
    from tests.conftest import LONGEST_MODULES_FIRST

    tests_dir = os.path.dirname(os.path.abspath(__file__))
    missing = [name for name in LONGEST_MODULES_FIRST
               if not os.path.isfile(os.path.join(tests_dir, name))]
    assert not missing, missing
