"""Where uploaded model files live: a directory on disk, or S3-compatible object storage.

Both stores take bytes in parts and give them back in parts, so a file of any size goes
through in constant memory; a write becomes visible only when committed whole.
"""

from __future__ import annotations

from modelreg.store.files.base import CHUNK, FileStore, FileWriter, artifact_key
from modelreg.store.files.local import LocalFileStore

__all__ = ["CHUNK", "FileStore", "FileWriter", "LocalFileStore", "artifact_key"]
