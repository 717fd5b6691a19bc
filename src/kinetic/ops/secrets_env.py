"""Fill ``EnvConfig`` from the secrets file: the environment wins, by whole key pairs."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from config import ConfigValidationError, EnvConfig, UnifiedConfig
from kinetic.ops.master_password import read_password
from kinetic.ops.secrets import SECRET_NAMES, SecretsError, SecretsFile, merge_env_values


def apply_secrets_file(
    config: UnifiedConfig, env: EnvConfig, *, interactive: bool = True
) -> tuple[EnvConfig, frozenset[str]]:
    """``env`` plus the file's secrets it lacks; the names (lower case) taken from the file.

    No file: ``env`` unchanged. A file that cannot be opened (no or wrong password,
    tampered, unsafe mode) raises ``ConfigValidationError`` with one line, unless
    ``interactive`` is false and no password source exists (then it is skipped).
    """
    from kinetic.logging import REDACTOR
    from kinetic.ops.master_password import password_source

    path = Path(config.secrets_file)
    if not path.exists():
        return env, frozenset()
    if not interactive and password_source() is None:
        return env, frozenset()
    try:
        store = SecretsFile.open(path, read_password(interactive=interactive))
    except SecretsError as exc:
        raise ConfigValidationError(f"secrets: {exc}", ("secrets_file",)) from None
    REDACTOR.add(list(store.values.values()))  # every stored value, used or not
    current = {n: getattr(env, n.lower()) for n in SECRET_NAMES}
    from_env = {n: v.get_secret_value() if v is not None else None for n, v in current.items()}
    taken = merge_env_values(from_env, store.values)
    update = {n.lower(): SecretStr(v) for n, v in taken.items()}
    return env.model_copy(update=update), frozenset(update)
