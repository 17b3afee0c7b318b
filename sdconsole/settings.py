"""Settings: defaults < sdconsole.toml < environment SDCONSOLE_* < command-line flags.

The config file is found through ``--config`` or ``SDCONSOLE_CONFIG``. Every
invalid value becomes one :class:`SettingsError` line naming the setting and
the value, so the command line can exit with status 2 and no traceback.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
import pydantic_settings
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from sdconsole.engine.rules.values import TYPES, FlagWords
from sdconsole.engine.target.dsn import redact_dsn

DEFAULT_NULL_TOKENS = ["", "?", "-", "N/A", "NULL", "n/a"]
# Schemas the stable schema may not be: PostgreSQL's own, the default one, the metadata.
RESERVED_SCHEMAS = frozenset({"public", "information_schema", "sdconsole"})

_file_data: ContextVar[dict[str, Any] | None] = ContextVar("sdconsole_config_file", default=None)


class SettingsError(ValueError):
    """A setting, config file or flag the console cannot use; one line for the operator."""


class Settings(BaseSettings):
    """Everything an operator can set, with the defaults the console uses."""

    model_config = SettingsConfigDict(env_prefix="SDCONSOLE_", extra="forbid")

    source: Path | None = Field(None, description="SQLite file to migrate")
    target_dsn: str | None = Field(
        None, description="PostgreSQL DSN; unset means the embedded server under the work dir"
    )
    workdir: Path = Field(
        Path(platformdirs.user_data_dir("sdconsole")),
        description="where runs, backups, the lock file and the embedded server live",
    )
    stable_schema: str = Field("servicedesk", description="schema dashboards read")
    quality_threshold: int = Field(80, ge=0, le=100, description="quality gate, 0-100")
    quality_floor: int = Field(
        50, ge=0, le=100, description="quality gate: no dimension may score below this"
    )
    canary_fraction: float = Field(0.10, gt=0, le=1, description="share of rows in the canary")
    date_order: Literal["day-first", "month-first"] = Field(
        "day-first", description="order used for columns whose dates are all ambiguous"
    )
    type_confidence: float = Field(
        0.95, gt=0, le=1, description="share of values that must conform to type a column"
    )
    null_tokens: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_TOKENS),
        description="values that mean missing",
    )
    flag_words: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="true/false word pairs beyond English yes/no, y/n, true/false, t/f,"
        " such as 'sim/não' (environment: comma-separated or a JSON list)",
    )
    retention: int = Field(3, ge=1, description="versioned schemas kept before purging")
    working_copies: int = Field(
        3, ge=1, description="cleaned working copies kept in run dirs after a successful run"
    )
    theme: str = Field("sdconsole-dark", description="console theme")
    min_free_disk_mb: int = Field(256, ge=0, description="stop a stage below this free disk")
    min_free_memory_mb: int = Field(128, ge=0, description="stop a stage below this memory")
    operator: str = Field(default_factory=getpass.getuser, description="recorded with each run")
    quality_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "completeness": 0.25,
            "validity": 0.30,
            "uniqueness": 0.15,
            "consistency": 0.15,
            "integrity": 0.15,
        },
        description="weight of each quality dimension",
    )
    sparse_columns: list[str] = Field(
        default_factory=lambda: [
            "tickets.TKT-Closure Date",
            "tickets.TKT-Resolution Hours",
            "timesheets.TS-Crm ID",
            "timesheets.TS-Description",
        ],
        description="table.column pairs whose gaps are expected and cost no completeness",
    )
    expected_orphans: list[str] = Field(
        default_factory=lambda: ["timesheets.TS-Crm ID"],
        description="relations whose unmatched values are expected and cost no integrity",
    )
    type_overrides: dict[str, str] = Field(
        default_factory=dict, description="table.column -> type, overriding inference"
    )
    date_order_overrides: dict[str, Literal["day-first", "month-first"]] = Field(
        default_factory=dict, description="table.column -> date order"
    )
    keymap: dict[str, str] = Field(default_factory=dict, description="binding id -> keys")

    @field_validator("stable_schema")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,47}", value):
            raise ValueError("must be lower-case letters, digits and _ (at most 48)")
        if value in RESERVED_SCHEMAS or value.startswith("pg_"):
            raise ValueError(
                f"{value!r} is a schema PostgreSQL or sdconsole itself uses; choose"
                " another (default: servicedesk)"
            )
        return value

    @field_validator("type_overrides")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for column, kind in value.items():
            if kind not in TYPES:
                raise ValueError(f"{column}: unknown type {kind!r} (one of {', '.join(TYPES)})")
        return value

    @field_validator("flag_words", mode="before")
    @classmethod
    def _flag_pairs(cls, value: Any) -> Any:
        """'sim/não, ja/nein' or a JSON list (as the environment gives it) -> a list."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("not a JSON list of 'true/false' pairs") from None
        return [entry for entry in value.split(",") if entry.strip()]

    @field_validator("flag_words")
    @classmethod
    def _flag_words(cls, value: list[str]) -> list[str]:
        FlagWords.parse(value)
        return ["/".join(word.strip().lower() for word in entry.split("/")) for entry in value]

    @field_validator("quality_weights")
    @classmethod
    def _known_dimensions(cls, value: dict[str, float]) -> dict[str, float]:
        known = {"completeness", "validity", "uniqueness", "consistency", "integrity"}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown dimension {sorted(unknown)[0]!r}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, _file_data.get() or {})
        return (init_settings, env_settings, file_source)

    @property
    def dsn_for_display(self) -> str:
        """The target as it may be shown: password removed, embedded named as such."""
        return redact_dsn(self.target_dsn) if self.target_dsn else "embedded PostgreSQL"


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse an sdconsole.toml, turning every failure into a one-line SettingsError."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from None
    return data.get("sdconsole", data)


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Build Settings from every layer; flags whose value is None are not set."""
    config = config or (
        Path(os.environ["SDCONSOLE_CONFIG"]) if os.environ.get("SDCONSOLE_CONFIG") else None
    )
    token = _file_data.set(read_config_file(config) if config else {})
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except pydantic_settings.SettingsError as exc:  # an environment value that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = found.group(1) if found else "?"
        raise SettingsError(
            f"setting {name} from the environment (SDCONSOLE_{name.upper()}): not valid JSON"
        ) from None
    finally:
        _file_data.reset(token)


def _describe(exc: ValidationError) -> str:
    """The first validation error as 'setting NAME = VALUE: reason'."""
    err = exc.errors()[0]
    name = ".".join(str(p) for p in err["loc"]) or "settings"
    value = err.get("input")
    if name == "target_dsn" and isinstance(value, str):
        value = redact_dsn(value)
    if err["type"] == "extra_forbidden":
        return f"unknown setting {name!r}"
    return f"setting {name} = {value!r}: {err['msg']}"
