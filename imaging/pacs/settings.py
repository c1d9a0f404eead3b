"""PACS server settings: a JSON file of servers in the user's config folder, validated with messages that say where.

File format (``pacs.json``)::

    {"default": "orthanc",
     "cache_dir": "/data/pacs-cache",               (optional; default: the user cache folder)
     "servers": [
        {"name": "orthanc", "protocol": "dicomweb", "url": "https://pacs.example.org/dicom-web",
         "username": "reader", "password_env": "PACS_PASSWORD", "ca_file": "/etc/ssl/pacs-ca.pem"},
        {"name": "site-pacs", "protocol": "dimse", "host": "10.0.0.5", "port": 104,
         "called_ae": "PACS", "calling_ae": "RECIST", "retrieve_method": "c-move", "storage_port": 11113}]}

Passwords are best given as ``password_env`` (the name of an environment variable); a ``password`` written in the file
is accepted, and the file is then saved readable by its owner only. Passwords never appear in ``repr``, ``describe()``,
logs or error messages.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imaging.pacs.errors import PacsConfigError

APP_NAME = "recist-workstation"
#: Overrides the config file location (tests, shared installations).
CONFIG_ENV = "RECIST_PACS_CONFIG"
PROTOCOLS = ("dicomweb", "dimse")
RETRIEVE_METHODS = ("c-get", "c-move")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_ae_title(value: str, what: str) -> str | None:
    if not value or not value.strip():
        return f"{what} is empty"
    if len(value) > 16:
        return f"{what} '{value}' is longer than 16 characters"
    if any(ord(c) < 0x20 or ord(c) > 0x7E or c == "\\" for c in value):
        return f"{what} '{value}' may hold only printable ASCII characters without a backslash"
    return None


@dataclass(frozen=True)
class ServerSettings:
    """One PACS. DICOMweb uses ``url``; DIMSE uses ``host``, ``port`` and the AE titles."""

    name: str
    protocol: str
    url: str = ""
    host: str = ""
    port: int = 104
    called_ae: str = ""
    calling_ae: str = "RECIST"
    #: DIMSE retrieve: C-GET (one association, no firewall opening) or C-MOVE (the PACS connects back to us).
    retrieve_method: str = "c-get"
    #: C-MOVE only: the local port of our storage SCP; the PACS must know ``calling_ae`` at this host and port.
    storage_port: int = 0
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    password_env: str = ""
    timeout_s: float = 30.0

    def problems(self, check_files: bool = True) -> list[str]:
        """Everything wrong with these settings, each as a phrase (empty when valid)."""
        out: list[str] = []
        if not _NAME.match(self.name or ""):
            out.append(f"name '{self.name}' must be 1-64 letters, digits, '_', '.' or '-'")
        if self.protocol not in PROTOCOLS:
            out.append(f"protocol '{self.protocol}' must be one of {', '.join(PROTOCOLS)}")
        if not isinstance(self.timeout_s, int | float) or not 0 < self.timeout_s <= 3600:
            out.append(f"timeout_s {self.timeout_s!r} must be a number of seconds between 0 and 3600")
        if self.protocol == "dicomweb":
            out.extend(self._dicomweb_problems())
        elif self.protocol == "dimse":
            out.extend(self._dimse_problems())
        if self.password and self.password_env:
            out.append("give either password or password_env, not both")
        if self.password_env and not _ENV_NAME.match(self.password_env):
            out.append(f"password_env '{self.password_env}' is not an environment variable name")
        if (self.password or self.password_env) and not self.username:
            out.append("a password needs a username")
        if self.key_file and not self.cert_file:
            out.append("key_file needs cert_file")
        if check_files:
            for label in ("ca_file", "cert_file", "key_file"):
                value = getattr(self, label)
                if value and not Path(value).expanduser().is_file():
                    out.append(f"{label} '{value}' does not exist")
        return out

    def _dicomweb_problems(self) -> list[str]:
        if not self.url:
            return ["a DICOMweb server needs a url (e.g. https://pacs.example.org/dicom-web)"]
        parts = urlsplit(self.url)
        out = []
        if parts.scheme not in ("http", "https") or not parts.hostname:
            out.append(f"url '{self.url}' must start with http:// or https:// and name a host")
        if parts.username or parts.password:
            out.append("put credentials in username/password, not in the url")
        if self.tls and parts.scheme != "https":
            out.append("tls is on but the url is not https://")
        return out

    def _dimse_problems(self) -> list[str]:
        out = []
        if not self.host:
            out.append("a DIMSE server needs a host")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            out.append(f"port {self.port!r} must be between 1 and 65535")
        for label in ("called_ae", "calling_ae"):
            problem = _check_ae_title(getattr(self, label), label)
            if problem:
                out.append(problem)
        if self.retrieve_method not in RETRIEVE_METHODS:
            out.append(f"retrieve_method '{self.retrieve_method}' must be one of {', '.join(RETRIEVE_METHODS)}")
        if self.retrieve_method == "c-move" and (
            not isinstance(self.storage_port, int) or not 0 < self.storage_port < 65536
        ):
            out.append("retrieve_method c-move needs storage_port (1-65535), where the PACS sends the images")
        if self.username:
            out.append("DIMSE servers take no username/password here (use TLS client certificates)")
        return out

    def validated(self, check_files: bool = True) -> ServerSettings:
        problems = self.problems(check_files)
        if problems:
            raise PacsConfigError(f"server '{self.name}': " + "; ".join(problems))
        return self

    def resolved_password(self) -> str:
        """The password, read from ``password_env`` when set (a missing variable is a config error)."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise PacsConfigError(
                    f"server '{self.name}': environment variable {self.password_env} (its password) is not set"
                )
            return value
        return self.password

    @property
    def uses_tls(self) -> bool:
        return self.tls or (self.protocol == "dicomweb" and self.url.lower().startswith("https://"))

    def describe(self) -> str:
        """One line for lists and messages; never the password."""
        tls = " (TLS)" if self.uses_tls and self.protocol == "dimse" else ""
        if self.protocol == "dicomweb":
            who = f" as {self.username}" if self.username else ""
            return f"{self.name}: DICOMweb {self.url}{who}"
        return (
            f"{self.name}: DIMSE {self.called_ae}@{self.host}:{self.port}{tls} from {self.calling_ae}"
            f" ({self.retrieve_method})"
        )

    def to_json(self) -> dict[str, Any]:
        """The non-default fields, for the config file."""
        defaults = ServerSettings(name=self.name, protocol=self.protocol)
        data = asdict(self)
        return {k: v for k, v in data.items() if k in ("name", "protocol") or v != getattr(defaults, k)}

    @classmethod
    def from_json(cls, data: object, where: str) -> ServerSettings:
        """Build and validate from a JSON object; ``where`` names it in messages (file and index)."""
        if not isinstance(data, dict):
            raise PacsConfigError(f"{where}: a server must be a JSON object, not {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise PacsConfigError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
        for required in ("name", "protocol"):
            if required not in data:
                raise PacsConfigError(f"{where}: missing '{required}'")
        typed: dict[str, Any] = {}
        for key, value in data.items():
            default = known[key].default
            expected: tuple[type, ...] = (str,) if isinstance(default, str) or key in ("name", "protocol") else (
                (bool,) if isinstance(default, bool) else (int,) if isinstance(default, int) else (int, float)
            )
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
                raise PacsConfigError(f"{where}: '{key}' must be {expected[0].__name__}, not {json.dumps(value)}")
            typed[key] = value
        server = cls(**typed)
        problems = server.problems()
        if problems:
            raise PacsConfigError(f"{where} ('{server.name}'): " + "; ".join(problems))
        return server


#: the workstation's one folder for everything when set (`workstation.paths`): the PACS settings and cache go there too
DATA_DIR_ENV = "RECIST_DATA_DIR"


def default_config_path() -> Path:
    """``$RECIST_PACS_CONFIG``, else ``pacs.json`` in ``$RECIST_DATA_DIR``, else in the user config folder."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    data = os.environ.get(DATA_DIR_ENV)
    if data:  # a second workstation set up in its own folder used the first one's servers and cache
        return Path(data).expanduser() / "pacs.json"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "pacs.json"


def default_cache_dir() -> Path:
    """``pacs-cache`` in ``$RECIST_DATA_DIR``, else ``pacs`` in the user cache folder."""
    data = os.environ.get(DATA_DIR_ENV)
    if data:
        return Path(data).expanduser() / "pacs-cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME)) / "pacs"


@dataclass(frozen=True)
class PacsSettings:
    """All configured servers, the default one, and where retrieved images are cached."""

    servers: tuple[ServerSettings, ...] = ()
    default: str = ""
    cache_dir: Path = field(default_factory=default_cache_dir)

    def server(self, name: str | None = None) -> ServerSettings:
        """The named server, else the default, else the only one."""
        if not self.servers:
            raise PacsConfigError("no PACS server is configured (add one with `recist pacs add` or the PACS dialog)")
        wanted = name or self.default
        if not wanted:
            if len(self.servers) == 1:
                return self.servers[0]
            names = ", ".join(s.name for s in self.servers)
            raise PacsConfigError(f"several servers are configured ({names}): name one")
        for server in self.servers:
            if server.name == wanted:
                return server
        raise PacsConfigError(f"no server named '{wanted}' (configured: {', '.join(s.name for s in self.servers)})")

    def with_server(self, server: ServerSettings) -> PacsSettings:
        """A copy with ``server`` added, or replacing the one of the same name."""
        server.validated()
        if any(s.name == server.name for s in self.servers):
            servers = tuple(server if s.name == server.name else s for s in self.servers)
        else:
            servers = (*self.servers, server)
        return replace(self, servers=servers)

    def without_server(self, name: str) -> PacsSettings:
        self.server(name)
        return replace(self, servers=tuple(s for s in self.servers if s.name != name),
                       default="" if self.default == name else self.default)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"servers": [s.to_json() for s in self.servers]}
        if self.default:
            data["default"] = self.default
        if self.cache_dir != default_cache_dir():
            data["cache_dir"] = str(self.cache_dir)
        return data


def load_settings(path: Path | None = None) -> PacsSettings:
    """Read and validate the config file; a missing file means no servers yet."""
    path = path or default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PacsSettings()
    except OSError as exc:
        raise PacsConfigError(f"{path}: cannot read the PACS settings: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PacsConfigError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise PacsConfigError(f"{path}: the settings must be a JSON object with a 'servers' list")
    unknown = sorted(set(data) - {"servers", "default", "cache_dir"})
    if unknown:
        raise PacsConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: servers, default, cache_dir)")
    raw_servers = data.get("servers", [])
    if not isinstance(raw_servers, list):
        raise PacsConfigError(f"{path}: 'servers' must be a list")
    servers = tuple(ServerSettings.from_json(s, f"{path}: servers[{i}]") for i, s in enumerate(raw_servers))
    names = [s.name for s in servers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PacsConfigError(f"{path}: server name(s) used twice: {', '.join(duplicates)}")
    default = data.get("default", "")
    if not isinstance(default, str) or (default and default not in names):
        raise PacsConfigError(f"{path}: default '{default}' is not one of the servers ({', '.join(names) or 'none'})")
    cache_dir = data.get("cache_dir")
    if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir):
        raise PacsConfigError(f"{path}: cache_dir must be a folder path")
    return PacsSettings(servers, default, Path(cache_dir).expanduser() if cache_dir else default_cache_dir())


def save_settings(settings: PacsSettings, path: Path | None = None) -> Path:
    """Write the config file atomically, readable by its owner only (it may hold a password)."""
    path = path or default_config_path()
    for server in settings.servers:
        server.validated(check_files=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(settings.to_json(), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
