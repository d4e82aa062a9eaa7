"""Server settings and the bind/key policy.

127.0.0.1 by default. Any other address needs `api_key_env`: the name of an environment variable
holding the bearer token clients must send (the key itself never appears on a command line or in a
file). Without it, or with the variable unset or empty, the server refuses to start.
"""

from __future__ import annotations

import ipaddress
import os

from pydantic import BaseModel, ConfigDict, Field

from expertune.errors import ConfigError

LOOPBACK_NAMES = {"localhost"}


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key_env: str | None = None
    max_batch: int = Field(32, ge=1, description="live rows decoded together")
    max_queue: int = Field(64, ge=1, description="rows waiting for a place in the batch before 429")
    max_tokens_limit: int = Field(1024, ge=1, description="largest max_tokens a request may ask for")
    default_max_tokens: int = Field(256, ge=1)
    max_n: int = Field(8, ge=1)
    max_request_bytes: int = Field(1_000_000, ge=1024)
    request_timeout: float = Field(300.0, gt=0, description="seconds from arrival to the last token")
    poll_interval: float = Field(0.5, gt=0, description="seconds between registry reads")
    log_prompts: bool = False


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key(config: ServeConfig) -> str | None:
    """The bearer token required by the server, or None (loopback without a key). Refuses a
    non-loopback bind without one."""
    if config.api_key_env:
        key = os.environ.get(config.api_key_env, "")
        if not key:
            raise ConfigError(f"--api-key-env {config.api_key_env}: that environment variable is unset or empty; "
                              f"export {config.api_key_env}=<a long random token> before starting the server")
        return key
    if not is_loopback(config.host):
        raise ConfigError(f"--host {config.host}: binding beyond this machine needs an API key; put a long random token "
                          "in an environment variable and pass its name with --api-key-env VAR")
    return None
