"""AlertmanagerCluster, the Python API a simulated prometheus-operator uses to run real
Alertmanager peers: scale 1 -> 3, SIGKILL / SIGTERM a peer, restart it, disable clustering.
Every check reads the peers' own /api/v2/status."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_lab.core.errors import LabError
from atlas_lab.core.ports import PortAllocator, bound_ports
from atlas_lab.core.processes import is_running
from atlas_lab.services.alertmanager import AlertmanagerCluster, alertmanager_binary


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[AlertmanagerCluster]:
    changes: list[int] = []
    running = AlertmanagerCluster(tmp_path / "am", PortAllocator("auto"), on_change=lambda: changes.append(1))
    running.changes = changes  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop_all()


def cluster_view(cluster: AlertmanagerCluster, name: str) -> tuple[str, set[str]]:
    """(status, peer addresses) as peer ``name`` reports them."""
    status = cluster.status(name)["cluster"]
    return status["status"], {peer["address"] for peer in status.get("peers") or []}


def test_lab_alertmanager_scale_kill_restart(cluster: AlertmanagerCluster) -> None:
    names = ["alertmanager-main-0", "alertmanager-main-1", "alertmanager-main-2"]
    first = cluster.start_peer(names[0])
    assert cluster_view(cluster, names[0]) == ("ready", {first.cluster_addr})

    # Scale 1 -> 3: the two new peers list every replica and join the first one.
    cluster.start_peers(names[1:])
    cluster.wait_ready(expected_peers=3, timeout=20)
    addresses = {cluster.cluster_addr(name) for name in names}
    for name in names:
        assert cluster_view(cluster, name) == ("ready", addresses)
    assert [peer.name for peer in cluster.peers()] == names
    assert cluster.urls() == [cluster.web_url(name) for name in names]
    assert len(cluster.changes) >= 2  # type: ignore[attr-defined]

    # SIGKILL looks like a crash: the process is gone, the others stay ready.
    killed = cluster.peer(names[1])
    cluster.stop_peer(names[1], signal.SIGKILL)
    assert not is_running(killed.pid, killed.start_time)
    assert [peer.name for peer in cluster.peers()] == [names[0], names[2]]
    assert cluster_view(cluster, names[0])[0] == "ready"

    # Restart: same ports and storage, new process, back in the mesh.
    restarted = cluster.restart_peer(names[1])
    assert restarted.pid != killed.pid
    assert (restarted.web_url, restarted.cluster_addr, restarted.storage_path) == (
        killed.web_url, killed.cluster_addr, killed.storage_path)
    cluster.wait_ready(expected_peers=3, timeout=20)

    # SIGTERM leaves the mesh at once: the two others see two members.
    cluster.stop_peer(names[2], signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(cluster_view(cluster, names[0])[1]) != 2:
        time.sleep(0.1)
    assert cluster_view(cluster, names[0]) == ("ready", {cluster.cluster_addr(names[0]), cluster.cluster_addr(names[1])})

    pids = [(peer.pid, peer.start_time) for peer in cluster.peers()]
    cluster.stop_all()
    assert cluster.peers() == []
    assert not [pid for pid, start in pids if is_running(pid, start)]
    ports = {int(cluster.web_url(name).rsplit(":", 1)[1]) for name in names}
    ports |= {int(cluster.cluster_addr(name).rsplit(":", 1)[1]) for name in names}
    assert not ports & bound_ports()


def test_lab_alertmanager_single_replica_without_clustering(cluster: AlertmanagerCluster) -> None:
    """clustered=False is what the operator does for one replica: status `disabled`, no gossip port."""
    peer = cluster.start_peer("alertmanager-solo", clustered=False)
    assert peer.cluster_addr == ""
    assert cluster.status("alertmanager-solo")["cluster"]["status"] == "disabled"
    gossip_port = int(cluster.cluster_addr("alertmanager-solo").rsplit(":", 1)[1])
    assert gossip_port not in bound_ports()
    # Empty, not absent: the default would be 0.0.0.0:9094.
    assert "--cluster.listen-address=" in Path(f"/proc/{peer.pid}/cmdline").read_text().split("\0")


def test_lab_alertmanager_unknown_peer(cluster: AlertmanagerCluster) -> None:
    with pytest.raises(KeyError, match="no Alertmanager peer named 'ghost'"):
        cluster.stop_peer("ghost")


def test_lab_alertmanager_binary_missing_message() -> None:
    with pytest.raises(LabError) as raised:
        alertmanager_binary({"PATH": "/nonexistent"})
    assert "apt-get install prometheus-alertmanager" in str(raised.value)
    assert "make sysdeps" in str(raised.value)
