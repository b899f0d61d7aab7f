"""All of modelreg's configuration, in one typed object read from MODELREG_* variables."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("modelreg", appauthor=False))


class Settings(BaseSettings):
    """Server settings. Every field can be set as MODELREG_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="MODELREG_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # None: SQLite in data_dir
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 4 * 1024 * 1024
    pool_size: int = 10
    log_level: str = "info"
    access_log: bool = True
    graceful_shutdown_seconds: int = 10

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelreg.db'}"

    def ensure_data_dir(self) -> None:
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
