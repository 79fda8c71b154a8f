"""alertmanager_cluster: the verdict, then the same code against real Alertmanager peers.

The first half feeds judge() with statuses shaped like what Alertmanager 0.25 answers; the second
half starts real ``prometheus-alertmanager`` processes on loopback (the lab's AlertmanagerCluster)
and asks them through UrlReplicaClient, so the JSON shapes and the silence API are the real ones.
"""

from __future__ import annotations

import signal
import time

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import gossip_probe as am_gossip_probe
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import replicas as am_replicas
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import verdict as am_verdict


def status(name: str, peer_name: str, peers: list[tuple[str, str]], cluster_status: str = "ready",
           mesh: str | None = None, pod_ready: bool | None = True) -> am_replicas.ReplicaStatus:
    return am_replicas.ReplicaStatus(name, reachable=True, cluster_status=cluster_status, peer_name=peer_name,
                                     peers=[{"name": n, "address": a} for n, a in peers], pod_ready=pod_ready,
                                     mesh_address=mesh)


PEERS = [("P0", "10.0.0.10:9094"), ("P1", "10.0.0.11:9094"), ("P2", "10.0.0.12:9094")]


def three_ready() -> list[am_replicas.ReplicaStatus]:
    return [status(f"am-{i}", PEERS[i][0], PEERS, mesh=PEERS[i][1]) for i in range(3)]


def reasons(verdict: am_verdict.Verdict) -> dict[str, str]:
    return {failure["replica"]: failure["reason"] for failure in verdict.failures}


def test_three_ready_peers_seeing_each_other_are_healthy():
    statuses = three_ready()
    verdict = am_verdict.judge(3, statuses)
    assert verdict.status == "healthy", verdict.summary
    assert verdict.failures == []
    assert statuses[0].sees == ["am-0", "am-1", "am-2"]


def test_single_replica_with_clustering_disabled_is_not_ha():
    verdict = am_verdict.judge(1, [status("am-0", None, [], cluster_status="disabled")])
    assert verdict.status == "not_ha"
    assert "disabled" in verdict.summary
    assert "run at least 3 replicas" in reasons(verdict)["am-0"]


def test_single_replica_forced_into_cluster_mode_is_still_not_ha():
    verdict = am_verdict.judge(1, [status("am-0", "P0", PEERS[:1])])
    assert verdict.status == "not_ha"


def test_unreachable_replica_is_named_and_peers_still_listing_it_are_fine():
    statuses = three_ready()
    statuses[1] = am_replicas.ReplicaStatus("am-1", reachable=False, error="connection refused", mesh_address=PEERS[1][1])
    verdict = am_verdict.judge(3, statuses)
    assert verdict.status == "degraded"
    assert reasons(verdict) == {"am-1": "unreachable: connection refused"}


def test_peer_dropped_from_the_mesh_is_named_by_its_mesh_address():
    statuses = [status("am-0", "P0", [PEERS[0], PEERS[2]], mesh=PEERS[0][1]),
                am_replicas.ReplicaStatus("am-1", reachable=False, error="connection refused", mesh_address=PEERS[1][1]),
                status("am-2", "P2", [PEERS[0], PEERS[2]], mesh=PEERS[2][1])]
    found = reasons(am_verdict.judge(3, statuses))
    assert found["am-0"] == "sees 2 of 3 peers; missing: am-1"
    assert found["am-2"] == "sees 2 of 3 peers; missing: am-1"


def test_unidentifiable_silent_replica_is_not_called_a_stranger():
    # Given as URLs: no mesh address, so the silent replica's entry in the others' lists is unknown.
    statuses = [status("url-0", "P0", PEERS), am_replicas.ReplicaStatus("url-1", reachable=False, error="timed out"),
                status("url-2", "P2", PEERS)]
    assert reasons(am_verdict.judge(3, statuses)) == {"url-1": "unreachable: timed out"}


def test_merged_foreign_peer_is_reported_with_the_cluster_label_hint():
    foreign = ("X9", "10.9.9.9:9094")
    statuses = [status(f"am-{i}", PEERS[i][0], PEERS + [foreign], mesh=PEERS[i][1]) for i in range(3)]
    verdict = am_verdict.judge(3, statuses)
    assert verdict.status == "degraded"
    assert reasons(verdict)["am-0"] == ("sees 4 of 3 peers; unexpected peers: X9 at 10.9.9.9:9094 "
                                        "(another Alertmanager cluster merged in? set clusterLabel)")


def test_settling_disabled_and_not_ready_pods_are_each_reported():
    statuses = three_ready()
    statuses[0].cluster_status = "settling"
    statuses[1] = status("am-1", None, [], cluster_status="disabled", mesh=PEERS[1][1])
    statuses[2].pod_ready = False
    statuses[2].pod_reason = "container alertmanager restarting"
    found = reasons(am_verdict.judge(3, statuses))
    assert found["am-0"].startswith("cluster status is settling, not ready")
    assert found["am-1"].startswith("clustering is disabled (status disabled) although 3 replicas are expected")
    assert found["am-2"] == "pod is not Ready: container alertmanager restarting"


def test_missing_pod_and_extra_failures_make_it_degraded():
    statuses = three_ready()[:2]
    for item in statuses:
        item.peers = [{"name": n, "address": a} for n, a in PEERS[:2]]
    extra = [{"replica": "prometheus monitoring/k8s", "reason": "sends alerts to one pod only"}]
    verdict = am_verdict.judge(3, statuses, missing_replicas=["am-2"], extra_failures=extra)
    found = reasons(verdict)
    assert verdict.status == "degraded"
    assert found["am-2"].startswith("no pod")
    assert found["am-0"] == "sees 2 of 3 peers; missing: am-2"
    assert found["prometheus monitoring/k8s"] == "sends alerts to one pod only"


def test_nobody_answering_is_down():
    statuses = [am_replicas.ReplicaStatus(f"am-{i}", reachable=False, error="refused") for i in range(3)]
    assert am_verdict.judge(3, statuses).status == "down"


def test_wait_for_verdict_polls_until_healthy_and_stops_at_the_timeout():
    answers = iter([am_verdict.judge(3, [am_replicas.ReplicaStatus("a", reachable=False, error="x")]),
                    am_verdict.judge(3, three_ready())])
    clock = iter(range(100)).__next__
    outcome = am_verdict.wait_for_verdict(lambda: ([], next(answers)), timeout=10, sleep=lambda seconds: None, clock=clock)
    verdict, rounds = outcome[1], outcome[3]
    assert (verdict.status, rounds) == ("healthy", 2)

    never = am_verdict.judge(3, [am_replicas.ReplicaStatus("a", reachable=False, error="x")])
    ticks = iter(range(0, 1000, 2)).__next__
    verdict, waited, rounds = am_verdict.wait_for_verdict(lambda: ([], never), timeout=10, interval=1,
                                                          sleep=lambda seconds: None, clock=ticks)[1:]
    assert verdict.status == "down" and waited <= 10 and rounds == 5


def test_probe_silence_matches_nothing_real_and_ends_by_itself():
    silence = am_gossip_probe.probe_silence()
    names = {matcher["name"]: matcher["value"] for matcher in silence["matchers"]}
    assert names["alertname"] == am_gossip_probe.PROBE_ALERTNAME and len(names[am_gossip_probe.PROBE_LABEL]) == 32
    assert silence["endsAt"] > silence["startsAt"]


# --- Against real Alertmanager peers --------------------------------------------------------------

@pytest.fixture
def peers(tmp_path):
    # The lab's peer manager (tests/unit/conftest.py puts tests/lab on sys.path).
    from atlas_lab.core.errors import LabError
    from atlas_lab.core.ports import PortAllocator
    from atlas_lab.services.alertmanager import AlertmanagerCluster, alertmanager_binary

    try:
        alertmanager_binary()
    except LabError as exc:  # `make units` installs it (bindep.txt): its absence is a failure
        pytest.fail(str(exc))
    cluster = AlertmanagerCluster(tmp_path, PortAllocator("auto"))
    yield cluster
    cluster.stop_all(signal.SIGKILL)


def replicas_of(cluster, names: list[str]) -> list[am_replicas.Replica]:
    return [am_replicas.Replica(name, am_replicas.UrlReplicaClient(cluster.web_url(name), timeout=2),
                                mesh_address=cluster.cluster_addr(name)) for name in names]


NAMES = ["alertmanager-main-0", "alertmanager-main-1", "alertmanager-main-2"]


def test_real_three_peer_cluster_is_healthy_and_gossips_a_silence(peers):
    peers.start_peers(NAMES)
    replicas = replicas_of(peers, NAMES)
    statuses, verdict = am_verdict.wait_for_verdict(lambda: _collect(replicas, 3), timeout=30, interval=0.2)[:2]
    assert verdict.status == "healthy", verdict.summary
    assert [s.to_dict()["peer_count"] for s in statuses] == [3, 3, 3]
    assert statuses[0].version and statuses[0].version.startswith("0.")

    probe = am_gossip_probe.gossip_probe(replicas, statuses, timeout=10)
    assert probe["passed"], probe
    assert probe["expired"] is True
    assert set(probe["propagation_seconds"]) == set(NAMES[1:])
    # The probe silence is expired on every replica (expiry gossips too).
    deadline = time.monotonic() + 10
    while True:
        states = [r.client.request("GET", "/api/v2/silence/{}".format(probe["silence_id"]))["status"]["state"]
                  for r in replicas]
        if states == ["expired"] * 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert states == ["expired"] * 3


def _collect(replicas, expected):
    statuses = am_replicas.gather(replicas)
    return statuses, am_verdict.judge(expected, statuses)


def test_real_killed_peer_is_named_at_once_and_dropped_by_the_others(peers):
    peers.start_peers(NAMES)
    replicas = replicas_of(peers, NAMES)
    verdict = am_verdict.wait_for_verdict(lambda: _collect(replicas, 3), timeout=30, interval=0.2)[1]
    assert verdict.healthy, verdict.summary

    peers.stop_peer(NAMES[1], signal.SIGKILL)
    statuses, verdict = _collect(replicas, 3)
    assert verdict.status == "degraded"
    assert reasons(verdict)[NAMES[1]].startswith("unreachable: cannot connect to http://127.0.0.1:")

    # The survivors drop the dead peer from their member lists after memberlist's failure detection.
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        statuses, verdict = _collect(replicas, 3)
        if reasons(verdict).get(NAMES[0], "").startswith("sees 2 of 3"):
            break
        time.sleep(0.5)
    assert reasons(verdict)[NAMES[0]] == f"sees 2 of 3 peers; missing: {NAMES[1]}"

    probe = am_gossip_probe.gossip_probe(replicas, statuses, timeout=3)
    assert probe["passed"], probe  # the two survivors still gossip
    assert NAMES[1] not in probe["propagation_seconds"]

    peers.restart_peer(NAMES[1])
    verdict = am_verdict.wait_for_verdict(lambda: _collect(replicas, 3), timeout=30, interval=0.2)[1]
    assert verdict.healthy, verdict.summary


def test_real_single_peer_without_clustering_is_not_ha(peers):
    peers.start_peers(NAMES[:1], clustered=False)
    statuses, verdict = _collect(replicas_of(peers, NAMES[:1]), 1)
    assert statuses[0].cluster_status == "disabled"
    assert verdict.status == "not_ha"
    probe = am_gossip_probe.gossip_probe(replicas_of(peers, NAMES[:1]), statuses)
    assert probe["performed"] is False and "two reachable replicas" in probe["reason"]


def test_real_wrong_url_is_one_clear_reason():
    client = am_replicas.UrlReplicaClient("http://127.0.0.1:9", timeout=1)
    statuses, verdict = _collect([am_replicas.Replica("http://127.0.0.1:9", client)], 3)
    assert verdict.status == "down"
    assert reasons(verdict)["http://127.0.0.1:9"].startswith(
        "unreachable: cannot connect to http://127.0.0.1:9/api/v2/status:")
