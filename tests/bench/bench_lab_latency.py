"""The lab's own cost per request, so that wall times measure the collection, not the emulators.

200 sequential ``GET /version`` on one keep-alive connection to the Kubernetes emulator (TLS, bearer
token), as a client such as kubectl or the collection sends them; the row's wall time is the median
per request in milliseconds (notes: min and max).
"""

from __future__ import annotations

import http.client
import ssl
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import yaml

REQUESTS = 200


def run(lab: Any) -> list[dict[str, Any]]:
    url = urlsplit(lab.kubernetes_url)
    context = ssl.create_default_context(cafile=str(lab.ca_file))
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    token = yaml.safe_load(lab.kubeconfig.read_text())["users"][0]["user"]["token"]
    durations = []
    try:
        for _index in range(REQUESTS):
            started = time.perf_counter()
            connection.request("GET", "/version", headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            durations.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET /version answered {response.status}")
    finally:
        connection.close()
    return [{"name": "lab: Kubernetes emulator, ms per request (GET /version, median)",
             "wall_seconds": round(statistics.median(durations), 3),
             "requests": {"kubernetes": REQUESTS},
             "notes": f"min {min(durations):.2f} ms, max {max(durations):.2f} ms over {REQUESTS} requests "
                      "on one keep-alive TLS connection"}]
