"""Development secrets kept as files under ``DATA_DIR`` (mode 0600): the PII key, the JWT secret.

Made once by the first process that needs one and read by every later one, so a restart keeps
what was encrypted or signed, and two workers on one data dir agree. Never used in production,
where the secrets come from the environment and a missing one stops the server.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from loaders.errors import SupportbotError

log = logging.getLogger(__name__)


class DevSecretError(SupportbotError):
    """A development secret file cannot be written or read back whole."""

    code = "DEV_SECRET_UNAVAILABLE"
    status = 503


def _create(path: Path, make: Callable[[], str], env_name: str) -> None:
    """Write a new secret unless another process got there first (never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    tmp = Path(name)
    with os.fdopen(fd, "w") as fh:
        fh.write(make())
    try:
        os.link(tmp, path)  # atomic and never overwrites: a reader sees a whole secret or none
        log.warning("%s is not set: created development secret file %s", env_name, path)
    except FileExistsError:  # another process won the race: use theirs
        pass
    finally:
        tmp.unlink()


def read_or_create(path: Path, make: Callable[[], str], env_name: str) -> str:
    """The secret stored at ``path``, created with ``make()`` and mode 0600 on first use.

    Args:
        path: the file, under ``DATA_DIR``.
        make: returns a fresh secret (called only when the file does not exist yet).
        env_name: the variable that would have made the file unnecessary (for messages).
    """
    try:
        if not path.exists():
            _create(path, make, env_name)
        secret = path.read_text().strip()
    except OSError as exc:
        raise DevSecretError(
            f"{env_name} is not set and the development secret file {path} cannot be "
            f"created or read ({exc.strerror}); set {env_name} or make DATA_DIR writable."
        ) from exc
    if not secret:
        raise DevSecretError(f"{path} is empty; delete it to make a new one, or set {env_name}.")
    return secret
