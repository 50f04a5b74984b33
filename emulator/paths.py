"""Where the shipped data lives: fixtures/, yang/, scenarios/ and wsdl/.

A wheel carries them under emulator/_data/; a checkout (and an editable
install) has them beside the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


FIXTURES = data_dir("fixtures")
YANG = data_dir("yang")
WSDL = data_dir("wsdl")              # the SOAP transport's WSDL and schemas
DEFAULT_FLEET = FIXTURES / "default-fleet.yaml"
BUILTIN_PROFILES = FIXTURES / "profiles"


def yang_search_path() -> list[Path]:
    """Our own modules first, then the IETF/IANA modules pyang installs."""
    share = Path(sys.prefix) / "share" / "yang" / "modules"
    return [YANG, *sorted(p for p in share.glob("*") if p.is_dir())]
