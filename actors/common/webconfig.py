"""Prometheus's web configuration file, as the metrics endpoints read it.

The same YAML file Prometheus and its exporters take with ``--web.config.file``
(https://prometheus.io/docs/prometheus/latest/configuration/https/): ``tls_server_config``
(``cert_file``, ``key_file``, ``client_auth_type``, ``client_ca_file``, ``min_version``) and
``basic_auth_users`` (user name -> bcrypt hash). A key Shoal does not apply is refused, never ignored.
"""

from __future__ import annotations

import dataclasses
import pathlib

import yaml

# client_auth_type -> whether a client certificate is required (None: not asked for).
CLIENT_AUTH = {"NoClientCert": None, "VerifyClientCertIfGiven": False, "RequireAndVerifyClientCert": True}
TLS_VERSIONS = ("TLS12", "TLS13")
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"}


class WebConfigError(Exception):
    """The web configuration file cannot be used; the message is one line and quotes no password hash."""


@dataclasses.dataclass(frozen=True)
class WebConfig:
    """What a metrics endpoint applies: TLS when ``cert_file`` is set, basic auth when ``users`` is not empty."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_cert_required: bool | None = None  # None: no client certificate is asked for
    min_version: str = "TLS12"
    users: dict = dataclasses.field(default_factory=dict)  # user name -> bcrypt hash (bytes)

    @property
    def scheme(self) -> str:
        """``https`` when the endpoint serves TLS, else ``http``."""
        return "https" if self.cert_file else "http"


PLAIN = WebConfig()


def load(path: str | pathlib.Path | None) -> WebConfig:
    """The web configuration in file ``path`` (PLAIN for None or ""), its files' paths made absolute
    against the file's directory, as Prometheus does; WebConfigError when it cannot be used."""
    if not path:
        return PLAIN
    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise WebConfigError(f"cannot read web config {path}: {type(exc).__name__}") from None
    return parse(data, path.resolve().parent)


def parse(data: object, base: pathlib.Path) -> WebConfig:
    """The WebConfig that ``data`` (the parsed YAML) describes, relative paths taken from ``base``."""
    if not isinstance(data, dict):
        raise WebConfigError("web config: expected a mapping")
    unknown = set(data) - {"tls_server_config", "basic_auth_users"}
    if unknown:
        raise WebConfigError(f"web config: {', '.join(sorted(map(str, unknown)))} not supported "
                             "(tls_server_config and basic_auth_users are)")
    return WebConfig(**_tls(data.get("tls_server_config") or {}, base), users=_users(data.get("basic_auth_users") or {}))


def _tls(tls: object, base: pathlib.Path) -> dict:
    if not isinstance(tls, dict):
        raise WebConfigError("web config: tls_server_config must be a mapping")
    unknown = set(tls) - TLS_KEYS
    if unknown:
        raise WebConfigError(f"web config: tls_server_config.{sorted(map(str, unknown))[0]} not supported "
                             f"({', '.join(sorted(TLS_KEYS))} are)")
    if not tls:
        return {}
    if not tls.get("cert_file") or not tls.get("key_file"):
        raise WebConfigError("web config: tls_server_config needs cert_file and key_file")
    auth = tls.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(f"web config: client_auth_type {auth!s:.40} not supported ({', '.join(CLIENT_AUTH)} are)")
    if CLIENT_AUTH[auth] is not None and not tls.get("client_ca_file"):
        raise WebConfigError(f"web config: client_auth_type {auth} needs client_ca_file")
    version = tls.get("min_version", "TLS12")
    if version not in TLS_VERSIONS:
        raise WebConfigError(f"web config: min_version {version!s:.20} not supported ({', '.join(TLS_VERSIONS)} are)")
    files = {name: str(base / str(tls[name])) for name in ("cert_file", "key_file", "client_ca_file") if tls.get(name)}
    for name, file in files.items():
        if not pathlib.Path(file).is_file():
            raise WebConfigError(f"web config: {name} {file} is not a file")
    return {**files, "client_cert_required": CLIENT_AUTH[auth], "min_version": version}


def _users(users: object) -> dict:
    if not isinstance(users, dict) or not all(isinstance(name, str) and isinstance(hashed, str)
                                              for name, hashed in users.items()):
        raise WebConfigError("web config: basic_auth_users must map user names to bcrypt hashes")
    bad = next((name for name, hashed in users.items() if not hashed.startswith(("$2a$", "$2b$", "$2y$"))), None)
    if bad is not None:
        raise WebConfigError(f"web config: the password of user {bad:.60} is not a bcrypt hash")
    return {name: hashed.encode() for name, hashed in users.items()}
