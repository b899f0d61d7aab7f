"""Where the CLI finds its registry: saved profiles, one of them active.

The file is `config.json` in `platformdirs.user_config_dir("modelreg")`, or in
MODELREG_CONFIG_DIR; it holds tokens, so it is written readable by its owner only.
Which registry a command talks to, first match wins:

1. `--profile NAME`: that profile;
2. MODELREG_URL (with MODELREG_TOKEN): that URL;
3. the active profile (MODELREG_TOKEN, if set, replaces its token);
4. http://127.0.0.1:8080, where `modelreg serve` listens by default.

A server may hold several registries: `--registry NAME` (or MODELREG_REGISTRY) picks
one, else the profile's saved `registry`, else the server's default registry.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_PROFILE = "default"


class ConfigError(Exception):
    """The configuration cannot be read, or names a profile that is not there."""


@dataclass
class Profile:
    url: str
    token: str | None = None
    registry: str | None = None  # one of the server's registries; None: its default


@dataclass
class Config:
    active: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


def config_dir() -> Path:
    given = os.environ.get("MODELREG_CONFIG_DIR")
    if given:
        return Path(given)
    import platformdirs

    return Path(platformdirs.user_config_dir("modelreg", appauthor=False))


def config_path() -> Path:
    return config_dir() / "config.json"


def load() -> Config:
    path = config_path()
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError:
        return Config()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise ConfigError(f"{path} is not a modelreg configuration")
    profiles = {
        name: Profile(url=str(p["url"]), token=p.get("token"), registry=p.get("registry"))
        for name, p in data.get("profiles", {}).items()
        if isinstance(p, dict) and p.get("url")
    }
    active = data.get("active")
    return Config(active=active if active in profiles else None, profiles=profiles)


def save(config: Config) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "active": config.active,
        "profiles": {
            name: {
                k: v
                for k, v in {"url": p.url, "token": p.token, "registry": p.registry}.items()
                if v is not None
            }
            for name, p in sorted(config.profiles.items())
        },
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None
    source: str  # where it came from, for messages
    registry: str | None = None  # None: the server's default (or the one the URL names)


def target(profile: str | None, registry: str | None = None) -> Target:
    """The registry a command talks to (see the module's docstring for the order);
    `registry` (from --registry or MODELREG_REGISTRY) wins over a profile's."""
    env_token = os.environ.get("MODELREG_TOKEN") or None
    if profile is not None:
        config = load()
        if profile not in config.profiles:
            known = ", ".join(sorted(config.profiles)) or "none yet; run 'modelreg login URL'"
            raise ConfigError(f"no profile {profile!r} (profiles: {known})")
        p = config.profiles[profile]
        return Target(p.url, p.token, f"profile {profile}", registry or p.registry)
    env_url = os.environ.get("MODELREG_URL")
    if env_url:
        return Target(env_url, env_token, "MODELREG_URL", registry)
    config = load()
    if config.active is not None:
        p = config.profiles[config.active]
        return Target(p.url, env_token or p.token, f"profile {config.active}", registry or p.registry)
    return Target(DEFAULT_URL, env_token, "default", registry)
