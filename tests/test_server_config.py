"""The served configuration: XSRF protection on, an upload limit, no usage statistics."""

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_config_keeps_xsrf_on_and_limits_uploads():
    config = tomllib.loads(CONFIG.read_text())
    assert config["server"]["enableXsrfProtection"] is True
    from core.data.imaging import MAX_FILE_BYTES

    assert config["server"]["maxUploadSize"] == MAX_FILE_BYTES // 2**20  # the server and the decoder agree
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["headless"] is True


def test_the_theme_follows_the_persons_system_theme():
    theme = tomllib.loads(CONFIG.read_text()).get("theme", {})
    assert "base" not in theme, "a forced base theme ignores a person's dark mode"
