"""Settings in one place, read from the environment (prefix ``ITEMBANK_``) or a ``.env`` file."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from itembank.errors import ValidationError

DEFAULT_DATABASE_URL = "sqlite:///itembank.db"
MASTER_KEY_BYTES = 32


class Settings(BaseSettings):
    """Runtime configuration; secrets come only from here, never from code."""

    model_config = SettingsConfigDict(env_prefix="ITEMBANK_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    environment: str = Field("development", description="development | production")
    retention_years: int = Field(5, ge=0, description="electronic records are kept at least this long")
    panel_min_members: int = Field(5, ge=1, description="acceptance panel size (rules: 5 or more)")
    master_key: str | None = Field(None, description="base64 of 32 bytes that wraps keys at rest")
    master_key_file: Path | None = None
    key_release_lead_minutes: int = Field(15, ge=0)
    health_min_items_per_element: int = Field(2, ge=0)
    health_x_min_share: float = 0.80
    health_y_max_share: float = 0.15
    health_z_max_share: float = 0.05

    def master_key_bytes(self) -> bytes:
        """The key-wrapping master key; production refuses to run without a configured one."""
        if self.master_key is not None:
            return decode_master_key(self.master_key, source="ITEMBANK_MASTER_KEY", field="master_key")
        if self.master_key_file is not None:
            return read_master_key_file(self.master_key_file)
        if self.environment == "production":
            raise ValidationError(
                "no master key configured: set ITEMBANK_MASTER_KEY or ITEMBANK_MASTER_KEY_FILE",
                field="master_key",
            )
        return b"itembank-development-master-key!"  # 32 bytes, development only


def decode_master_key(text: str | bytes, *, source: str, field: str) -> bytes:
    """The one rule for a master key at rest: base64 of exactly 32 bytes, surrounding whitespace ignored.

    Errors name where the key came from and never echo what was found there.
    """
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise ValidationError(
            f"the master key in {source} is not base64 (expected base64 of {MASTER_KEY_BYTES} bytes)",
            field=field,
        ) from exc
    if len(key) != MASTER_KEY_BYTES:
        raise ValidationError(
            f"the master key in {source} is {len(key)} bytes; it must be base64 of {MASTER_KEY_BYTES} bytes",
            field=field,
        )
    return key


def read_master_key_file(path: Path) -> bytes:
    """A master key from its file (as ``itembank keys new-master`` writes it), or an error naming the file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValidationError(
            f"cannot read the master key file {path}: {exc.strerror or exc}", field="master_key_file"
        ) from exc
    return decode_master_key(text, source=f"the file {path}", field="master_key_file")


@lru_cache
def get_settings() -> Settings:
    return Settings()
