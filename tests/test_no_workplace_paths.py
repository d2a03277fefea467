"""No tracked file names a location that exists only on the developers'
machines.

Data and models are found through arguments and environment variables
(`KERAS_DECONVNET_CAMVID`, `KERAS_DECONVNET_MODELS`, ...), never through a
path of the machine the code was written on. Forbidden (`FORBIDDEN`
below): the developers' workplace and root folders, a home folder
`/home/<name>/`, and the workplace's shared data folder, however it is
reached. Allowed: `/tmp/...` in examples (it exists on every POSIX
system) and system paths such as `/usr/bin/env`.
"""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Assembled from pieces so that this file does not match itself.
FORBIDDEN = re.compile(
    "|".join([
        r"(?<![\w.])/" + "work/",
        r"(?<![\w.])/" + "root/",
        r"(?<![\w.])/" + r"home/[A-Za-z_]",
        "shared" + "/data",
        r"\.\./" + "shared",
    ])
)


def tracked_files():
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout")
    return [name for name in listed.decode().split("\0") if name]


def test_pattern_catches_workplace_paths():
    for text in ("--data-dir /" + "work/x", "cd /" + "root/y",
                 "/" + "home/alice/z", "../" + "shared" + "/data/camvid"):
        assert FORBIDDEN.search(text), text
    for text in ("/tmp/synthetic", "#!/usr/bin/env bash", "saved_models/x",
                 "https://example.org" + "/" + "work/"):
        assert not FORBIDDEN.search(text), text


def test_no_tracked_file_names_a_workplace_path():
    found = []
    for name in tracked_files():
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            continue  # deleted in the working tree
        with open(path, "rb") as file:
            text = file.read().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            match = FORBIDDEN.search(line)
            if match:
                found.append(f"{name}:{number}: {match.group(0)!r}")
    assert not found, "workplace paths in tracked files:\n" + "\n".join(found)
