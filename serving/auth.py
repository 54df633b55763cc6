"""API keys: stored as SHA-256 digests, each with scopes; checked on every /v1 request."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from fastapi import Request

from serving.config import ApiKey, Mode, Scope, Settings
from serving.errors import ApiError

LOCAL_KEY_FILE = "local-api-key"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "ocs_" + secrets.token_urlsafe(32)


def read_key_file(path: Path) -> list[ApiKey]:
    if not path.is_file():
        return []
    try:
        return [ApiKey.model_validate(item) for item in json.loads(path.read_text())]
    except (ValueError, TypeError) as exc:
        raise ApiKeyFileError(f"{path}: not a JSON list of hashed keys: {exc}") from exc


class ApiKeyFileError(ValueError):
    pass


def add_key(path: Path, name: str, scopes: Iterable[Scope]) -> str:
    """Create a key, append its digest to the key file, and return the key (shown once)."""
    key = new_key()
    keys = read_key_file(path)
    keys.append(ApiKey(name=name, sha256=digest(key), scopes=list(scopes)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([k.model_dump(mode="json") for k in keys], indent=1))
    return key


def ensure_local_key(settings: Settings) -> str | None:
    """In local mode with no keys at all, create one with every scope and return it.

    The plaintext is kept in ``<state_dir>/local-api-key`` (mode 0600) so the README's curl
    example works as written; production mode never writes a key in plaintext.
    """
    if settings.mode is not Mode.local or settings.api_keys:
        return None
    if read_key_file(settings.api_keys_path):
        return None
    key = add_key(settings.api_keys_path, "local", list(Scope))
    plain = settings.state_dir / LOCAL_KEY_FILE
    plain.write_text(key + "\n")
    plain.chmod(0o600)
    return key


def all_keys(settings: Settings) -> list[ApiKey]:
    return [*settings.api_keys, *read_key_file(settings.api_keys_path)]


class KeyRing:
    def __init__(self, keys: Iterable[ApiKey]):
        self._by_digest = {k.sha256: k for k in keys}

    def __len__(self) -> int:
        return len(self._by_digest)

    def check(self, authorization: str | None, scope: Scope) -> ApiKey:
        if not authorization:
            raise ApiError(401, "unauthorized", "send the header 'Authorization: Bearer <key>'")
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <key>'")
        key = self._by_digest.get(digest(token.strip()))
        if key is None:
            raise ApiError(401, "unauthorized", "unknown API key")
        if scope not in key.scopes:
            raise ApiError(
                403, "forbidden", f"API key {key.name!r} lacks the {scope.value!r} scope"
            )
        return key


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """FastAPI dependency: the caller's key, which must carry ``scope``."""

    # async on purpose: FastAPI runs plain functions in a thread pool, a costly hop per request.
    async def dependency(request: Request) -> ApiKey:
        ring: KeyRing = request.app.state.keys
        return ring.check(request.headers.get("authorization"), scope)

    return dependency
