"""Downloads of preset files: Keras cache, mirrors, checksums, retries.

Files go to `$KERAS_HOME/keras_deconvnet/<preset>/` (`KERAS_HOME`
defaults to `~/.keras`, as in Keras) through `keras.utils.get_file`, with
its progress bar. `KERAS_DECONVNET_PRESET_BASE_URL` replaces every URL by
`$KERAS_DECONVNET_PRESET_BASE_URL/<the authors' file name>`.

A download is checked before use: its sha256 must match the preset's
pinned checksum or, when none is pinned, the checksum recorded at the
first download (`downloads.json`); and the file must parse (a truncated
`.caffemodel` does not). A bad file is deleted and fetched once more.
"""

import hashlib
import json
import os

import keras

BASE_URL_VARIABLE = "KERAS_DECONVNET_PRESET_BASE_URL"
CHECKSUMS_FILE = "downloads.json"


def keras_home():
    """`$KERAS_HOME`, else `~/.keras`, read at call time."""
    return os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )


def cache_dir(preset_name):
    """`$KERAS_HOME/keras_deconvnet/<preset_name>`."""
    return os.path.join(keras_home(), "keras_deconvnet", preset_name)


def file_url(preset_file):
    """The URL of a preset file, honouring the mirror variable."""
    base = os.environ.get(BASE_URL_VARIABLE)
    if base:
        return f"{base.rstrip('/')}/{preset_file.name}"
    return preset_file.url


def sha256(path):
    """The hex sha256 of a file, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_checksums(folder):
    """`{file name: sha256}` of earlier downloads into `folder`."""
    path = os.path.join(folder, CHECKSUMS_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as file:
        return json.load(file)


def record_checksum(folder, name, digest):
    checksums = recorded_checksums(folder)
    checksums[name] = digest
    path = os.path.join(folder, CHECKSUMS_FILE)
    with open(f"{path}.tmp", "w") as file:
        json.dump(checksums, file, indent=1)
    os.replace(f"{path}.tmp", path)


def offline_message(preset, preset_file, url, folder, error):
    files = ", ".join(f"'{item.name}'" for item in preset.files)
    return (
        f"Could not download '{preset_file.name}' of preset '{preset.name}' "
        f"from {url} ({error}). Downloads are cached in '{folder}'. Without "
        f"network access, fetch {files} on another machine and pass them: "
        f"keras_deconvnet.load('{preset.name}', caffemodel='path/to/"
        f"{preset.caffemodel.name}', prototxt='path/to/"
        f"{preset.prototxt.name}'), or set {BASE_URL_VARIABLE} to a mirror."
    )


def _get(preset, preset_file, folder, force):
    url = file_url(preset_file)
    try:
        return keras.utils.get_file(
            preset_file.name, origin=url, cache_dir=os.path.dirname(folder),
            cache_subdir=os.path.basename(folder), force_download=force,
        ), url
    except Exception as error:  # get_file raises a bare Exception.
        raise ConnectionError(
            offline_message(preset, preset_file, url, folder, error)
        ) from None


def fetch(preset, preset_file, check):
    """Downloads (or finds in the cache) one file and verifies it.

    Args:
        preset: the `Preset`.
        preset_file: one of its `PresetFile`s.
        check: function `path -> None` raising `ValueError` when the file
            does not parse (truncated, not the expected format).

    Returns:
        `(path, url, sha256)`.

    Raises:
        ConnectionError: the file cannot be downloaded (offline).
        ValueError: it is still bad after a second download: a checksum
            that differs from the expected one, or a file that does not
            parse.
    """
    folder = cache_dir(preset.name)
    os.makedirs(folder, exist_ok=True)
    expected = preset_file.sha256 or recorded_checksums(folder).get(
        preset_file.name
    )
    for attempt in range(2):
        path, url = _get(preset, preset_file, folder, force=attempt > 0)
        digest = sha256(path)
        if expected is not None and digest != expected:
            problem = (
                f"its sha256 is {digest}, but {expected} was expected (pinned "
                "by the preset or recorded at the first download in "
                f"'{os.path.join(folder, CHECKSUMS_FILE)}')"
            )
        else:
            try:
                check(path)
                problem = None
            except ValueError as error:
                problem = f"it does not parse: {error}"
        if problem is None:
            break
        os.remove(path)
        if attempt == 0:
            print(f"'{path}' is unusable ({problem}); downloading it again.")
    else:
        raise ValueError(
            f"The file downloaded from {url} is unusable twice: {problem}. "
            "The download is corrupt or the server now serves another file. "
            f"If the new file is intended, delete '{CHECKSUMS_FILE}' in "
            f"'{folder}'; or pass local files: keras_deconvnet.load("
            f"'{preset.name}', caffemodel=..., prototxt=...)."
        )
    if expected is None:
        record_checksum(folder, preset_file.name, digest)
    return path, url, digest
