import json

import pytest

from serving.auth import KeyRing, add_key, digest, ensure_local_key, read_key_file
from serving.config import ApiKey, Scope, load_settings
from serving.errors import ApiError


def test_key_file_stores_only_digests(tmp_path):
    path = tmp_path / "keys.json"
    key = add_key(path, "oms", [Scope.predict])
    stored = json.loads(path.read_text())
    assert key not in path.read_text()
    assert stored == [{"name": "oms", "sha256": digest(key), "scopes": ["predict"]}]
    assert read_key_file(path)[0].name == "oms"


def test_keyring_status_codes():
    ring = KeyRing([ApiKey(name="oms", sha256=digest("k1"), scopes=[Scope.predict])])
    assert ring.check("Bearer k1", Scope.predict).name == "oms"
    for header, status in [(None, 401), ("k1", 401), ("Basic k1", 401), ("Bearer nope", 401)]:
        with pytest.raises(ApiError) as err:
            ring.check(header, Scope.predict)
        assert err.value.status == status
        assert err.value.headers == {"WWW-Authenticate": "Bearer"}
    with pytest.raises(ApiError) as err:
        ring.check("Bearer k1", Scope.admin)
    assert err.value.status == 403 and "'admin'" in err.value.message


def test_local_key_created_once(tmp_path):
    s = load_settings(state_dir=tmp_path)
    key = ensure_local_key(s)
    assert key and (tmp_path / "local-api-key").read_text().strip() == key
    assert (tmp_path / "local-api-key").stat().st_mode & 0o077 == 0
    assert ensure_local_key(s) is None  # a key exists now
    assert set(read_key_file(s.api_keys_path)[0].scopes) == set(Scope)
