"""Runtime configuration, read from ``FASTREG_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from fastreg.domain.versions import DEFAULT_VERSION, parse_version


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FASTREG_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/fastreg.db"
    mode: Literal["sandbox", "production"] = "sandbox"
    sandbox_key: str | None = None
    data_dir: Path = Path("./var")
    public_url: str = "http://127.0.0.1:8000"
    # None means: start the embedded SMTP sink on a free local port.
    smtp_host: str | None = None
    smtp_port: int | None = None
    mail_from: str = "no-reply@fastreg.local"
    secret_key: str | None = None
    monthly_quota: int = 5
    individual_monthly_quota: int = 1
    link_monthly_limit: int = 13
    principal_mp_limit: int = 50
    timezone: str = "Asia/Shanghai"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    # The WeChat behaviour in force (README "Platform versions"); the sandbox can switch it per sandbox.
    platform_version: str = DEFAULT_VERSION.value

    token_ttl_seconds: int = 7200
    ticket_ttl_seconds: int = 600
    confirmation_ttl_seconds: int = 600
    pre_auth_code_ttl_seconds: int = 1800
    authorization_code_ttl_seconds: int = 600  # WeChat: auth_code=…&expires_in=600
    activation_ttl_seconds: int = 48 * 3600
    enrolment_ttl_seconds: int = 72 * 3600  # a WeChat user's one-time enrolment link (production)
    pending_ttl_seconds: int = 7 * 24 * 3600
    activation_resend_interval_seconds: int = 60
    verify_ticket_interval_seconds: int = 600
    # The push worker is woken when a push is committed in its process; it also looks every so often.
    push_poll_seconds: float = 0.5
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    max_body_bytes: int = 1024 * 1024
    body_timeout_seconds: float = 30.0  # a request body stalled longer than this between chunks: 408
    # /docs, /redoc, /openapi.json and /metrics: served in the sandbox, off in production unless turned on.
    admin_endpoints: bool | None = None

    @field_validator("platform_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        try:
            return parse_version(value).value
        except ValueError as error:
            raise ValueError(f"FASTREG_PLATFORM_VERSION: {error}") from None

    @property
    def is_sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def serves_admin_endpoints(self) -> bool:
        return self.is_sandbox if self.admin_endpoints is None else self.admin_endpoints

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class _GivenValuesOnly(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(**values: object) -> Settings:
    """Settings made of these values and the defaults alone: no ``FASTREG_*`` variable and no ``.env`` file is
    read (the pytest plugin's own server, which must not pick up the configuration of the project it tests)."""
    return _GivenValuesOnly(**values)  # type: ignore[arg-type]
