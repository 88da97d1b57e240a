"""The nginx set-ups the documentation prints, run as printed in front of a real hub: the whole
configuration of docs/operations.md §4 (its TLS lines left out: plain HTTP on a free loopback
port) and the README's replica snippet (its directives assembled from the paragraph's code
spans, as a reader copies them). A signed download link, good for an hour, must not reach
nginx's access log through either (nginx's default log format writes it whole, signature
included), and the two log formats must be the same.

nginx comes from tests/support/nginx.py (Linux: /usr/sbin/nginx).
"""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.support.livehub import LiveHub
from tests.support.nginx import start_nginx

ROOT = Path(__file__).resolve().parents[2]


def operations_conf() -> str:
    """The nginx block of docs/operations.md §4, as printed."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## 4. nginx in front", 1)[1]
    return section.split("```nginx\n", 1)[1].split("```", 1)[0]


def readme_replica_spans() -> list[str]:
    """The nginx directives of the README's "Several replicas" paragraph: its code spans that
    end like a directive, each on one line (markdown shows a span's line breaks as spaces)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = text.split("**Several replicas.**", 1)[1].split("\n\n", 1)[0]
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", paragraph))
    return [span for span in spans if span.endswith((";", "}"))]


def log_format(conf: str) -> str:
    """The format string of ``log_format alu_noquery``: nginx joins its quoted parts."""
    found = re.search(r"log_format\s+alu_noquery\s+((?:'[^']*'\s*)+);", conf)
    assert found, "no log_format alu_noquery"
    return "".join(re.findall(r"'([^']*)'", found.group(1)))


def test_the_readme_logs_as_operations_md_does() -> None:
    spans = readme_replica_spans()
    assert log_format("\n".join(spans)) == log_format(operations_conf())
    assert any(re.fullmatch(r"access_log \S+ alu_noquery;", span) for span in spans), spans


def test_operations_md_nginx_keeps_signed_links_out_of_its_log(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    base = tmp_path / "nginx"
    hub_port = live_hub.url.rsplit(":", 1)[1]
    conf = operations_conf()
    conf = re.sub(r"\n\s*ssl_certificate(_key)?\s[^\n]*", "", conf)
    for printed, here in (
        ("listen 443 ssl;", "listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8750;", f"server 127.0.0.1:{hub_port};"),
        ("/var/log/nginx/alu-hub.access.log", str(base / "docs-access.log")),
    ):
        assert printed in conf
        conf = conf.replace(printed, here)
    assert_no_link_in_log(live_hub, clip, base, conf)


def test_the_readme_replica_snippet_keeps_signed_links_out_of_its_log(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    base = tmp_path / "nginx"
    hub_port = live_hub.url.rsplit(":", 1)[1]
    http, server, location = [], [], []
    for span in readme_replica_spans():
        if span.startswith(("upstream ", "log_format ")):
            # the README's two replicas: here both lines name the one hub
            http.append(re.sub(r"127\.0\.0\.1:875\d", f"127.0.0.1:{hub_port}", span))
        elif span.startswith("proxy_"):
            location.append(span)
        else:
            server.append(
                span.replace("/var/log/nginx/alu-hub.access.log", str(base / "docs-access.log"))
            )
    conf = "\n".join(
        [
            *http,
            "server {",
            "    listen 127.0.0.1:{port};",
            *server,
            "    location / {",
            *location,
            "    }",
            "}",
        ]
    )
    assert_no_link_in_log(live_hub, clip, base, conf)


def assert_no_link_in_log(live_hub: LiveHub, clip: Path, base: Path, conf: str) -> None:
    """Through nginx with ``conf`` (its ``http {}`` part): sign in, ask for a signed link and
    fetch the file by it; the link works, and nothing of its query is in the access log."""
    item_id = live_hub.publish(clip, "Floods")
    live_hub.member("ktn")

    def ready(port: int) -> bool:
        return requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200

    # nginx's own default beside: where a server without an access_log of its own writes
    default_log = base / "default-access.log"
    nginx = start_nginx(base, conf, ready, default_log=str(default_log))
    try:
        api = f"{nginx.url}/api/v1"
        signin = requests.post(
            f"{api}/session",
            json={"username": "ktn", "password": "pw-1234", "device": "pytest"},
            timeout=30,
        )
        assert signin.status_code == 200, signin.text
        token = signin.json()["token"]
        link = requests.post(
            f"{api}/items/{item_id}/renditions/proxy/link",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert link.status_code == 200, link.text
        url = link.json()["url"]
        assert url.startswith(nginx.url) and "sig=" in url, url
        got = requests.get(url, timeout=30)
        assert got.status_code == 200 and len(got.content) > 0
    finally:
        nginx.stop()
    signature = re.search(r"sig=([^&]+)", url)
    assert signature
    for written in (default_log, base / "docs-access.log"):
        log = written.read_text(encoding="utf-8") if written.exists() else ""
        assert signature.group(1) not in log and "sig=" not in log, f"{written.name}: {log}"
        assert token not in log, f"{written.name}: {log}"
    # the request is logged, by its path (the documented log, not nginx's default)
    path = url.removeprefix(nginx.url).split("?", 1)[0]
    assert f'"GET {path} HTTP/1.1" 200' in log, log
