"""Settings in one place, read from the environment (prefix ``ITEMBANK_``) or a ``.env`` file."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///itembank.db"


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
        raw = self.master_key
        if raw is None and self.master_key_file is not None:
            raw = self.master_key_file.read_text().strip()
        if raw is None:
            if self.environment == "production":
                from itembank.errors import ValidationError

                raise ValidationError(
                    "no master key configured: set ITEMBANK_MASTER_KEY or ITEMBANK_MASTER_KEY_FILE",
                    field="master_key",
                )
            return b"itembank-development-master-key!"  # 32 bytes, development only
        key = base64.b64decode(raw)
        if len(key) != 32:
            from itembank.errors import ValidationError

            raise ValidationError("the master key must be 32 bytes (base64)", field="master_key")
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
