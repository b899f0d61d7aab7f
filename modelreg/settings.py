"""All of modelreg's configuration, in one typed object read from MODELREG_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # A SQLite list read runs on the worker's event loop (quicker than a thread hop) until
    # it has taken this long; then it is stopped and run again on a thread, so that one
    # long scan does not hold up every other request of the worker meanwhile.
    sqlite_loop_read_ms: float = Field(default=10.0, ge=0)

    # Where uploaded model files go: "local" (storage_path, default <data_dir>/artifacts)
    # or "s3". S3 credentials fall back to boto3's usual chain (AWS_* variables, profiles).
    storage: Literal["local", "s3"] = "local"
    storage_path: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    # Authentication. None configured and a loopback address: single-user mode.
    auth: bool = False  # require credentials (modelreg API tokens) even with no OIDC or proxy set
    insecure_no_auth: bool = False  # allow listening beyond loopback without authentication
    single_user_name: str | None = None  # who single-user mode acts as (default: the login name)
    admin_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # default: the jwks_uri of the issuer's discovery document
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_leeway_seconds: int = 30
    # Browser sign-in through the provider (authorization code flow with PKCE): on when a
    # client id is set. The secret only for a confidential client. The callback to register
    # at the provider is <this server's URL>/signin/oidc/callback (oidc_redirect_uri when
    # modelreg cannot tell its public URL, e.g. behind a proxy that rewrites the host).
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_provider_name: str | None = None  # on the sign-in button; default: the issuer's host
    oidc_redirect_uri: str | None = None
    # Signs the short-lived cookie that carries a sign-in through the provider. Default: one
    # derived from oidc_client_secret, else a random one per process (so set it when several
    # workers or replicas serve a public client).
    signin_secret: SecretStr | None = None
    proxy_user_header: str | None = None  # e.g. X-Forwarded-User (OpenShift oauth-proxy)
    proxy_groups_header: str | None = None  # e.g. X-Forwarded-Groups, comma-separated
    # KServe's storage initializer calls without a token: the registries named here may be
    # read (GET only) without credentials. Empty: none.
    anonymous_read_registries: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("admin_users", "admin_groups", "anonymous_read_registries", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    def auth_enabled(self) -> bool:
        return bool(self.auth or self.oidc_issuer or self.proxy_user_header)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelreg.db'}"

    def resolved_storage_path(self) -> Path:
        return self.storage_path or self.data_dir

    def ensure_data_dir(self) -> None:
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
