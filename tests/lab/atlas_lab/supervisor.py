"""The lab supervisor: one detached process that owns every service of a lab.

``python -m atlas_lab up`` spawns it (``atlas_lab supervise``) in its own session. It starts the
real servers as child processes (OpenBao, moto, Alertmanager peers), serves the emulators from
threads (Kubernetes API, Keycloak, the OpenBao fault proxy, the lab control API), then starts
every registered scenario (``atlas_lab/scenarios``: each feature's seeds and simulated
controllers), writes the env file, inventory, kubeconfig and ``state.json``, then waits for
SIGTERM (``down``) and stops everything it started. It names no feature itself.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from atlas_lab.config import LabConfig
from atlas_lab.core.errors import LabError
from atlas_lab.core.http_base import EmulatorApp, Request, Response, ServerHandle, serve
from atlas_lab.core.ports import PortAllocator, port_in_use_error
from atlas_lab.core.processes import process_start_time
from atlas_lab.core.state import write_state
from atlas_lab.core.writers import ENV_FILE, INVENTORY_FILE, write_env_file, write_inventory
from atlas_lab.prerequisites import missing_package_error
from atlas_lab.scenarios import Scenario, ScenarioContext
from atlas_lab.scenarios import registered as registered_scenarios
from atlas_lab.services.alertmanager import AlertmanagerCluster, alertmanager_binary
from atlas_lab.services.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, MotoServer
from atlas_lab.services.openbao import OpenBaoServer

LOG = logging.getLogger("atlas_lab.supervisor")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class ControlApp(EmulatorApp):
    """The lab control API: what runs, reset everything at once, and Alertmanager peers remotely.

    ``GET /_lab/services``; ``POST /_lab/reset`` (every emulator and moto);
    ``GET|POST /_lab/alertmanager/peers`` (``{"name": ..., "peers": [...], "clustered": true}``);
    ``DELETE /_lab/alertmanager/peers/<name>?signal=TERM|KILL``;
    ``POST /_lab/alertmanager/peers/<name>/restart?signal=TERM|KILL``.
    """

    name = "lab-control"

    def __init__(self, supervisor: Supervisor):
        super().__init__()
        self.supervisor = supervisor

    def handle(self, request: Request) -> Response:
        return Response.json({"error": "the lab control API only serves /_lab/ routes"}, status=404)

    def reset(self) -> None:
        self.supervisor.reset_services()

    def admin(self, request: Request, subpath: str) -> Response | None:
        try:
            return self._admin(request, subpath)
        except LabError as exc:  # e.g. a peer that did not start: its log tail, as JSON
            return Response.json({"error": str(exc)}, status=500)

    def _admin(self, request: Request, subpath: str) -> Response | None:
        cluster = self.supervisor.alertmanager
        if subpath == "services" and request.method == "GET":
            return Response.json(self.supervisor.services())
        if subpath == "alertmanager/peers":
            if request.method == "GET":
                return Response.json([peer.to_dict() for peer in cluster.peers()])
            if request.method == "POST":
                spec = request.json() or {}
                peer = cluster.start_peer(spec["name"], peers=spec.get("peers"),
                                          clustered=bool(spec.get("clustered", True)))
                return Response.json(peer.to_dict(), status=201)
        parts = subpath.split("/")
        if len(parts) >= 3 and parts[:2] == ["alertmanager", "peers"]:
            name = parts[2]
            if name not in cluster:
                cluster = self.supervisor.peer_group(name) or cluster  # a process a scenario runs
            sig = _signal_from_name(request.param("signal", "TERM") or "TERM")
            try:
                if len(parts) == 3 and request.method == "DELETE":
                    cluster.stop_peer(name, sig)
                    return Response.empty()
                if parts[3:] == ["restart"] and request.method == "POST":
                    return Response.json(cluster.restart_peer(name, sig).to_dict())
            except KeyError as exc:
                return Response.json({"error": str(exc)}, status=404)
        return None


def _signal_from_name(name: str) -> signal.Signals:
    name = name.upper()
    try:
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except KeyError:
        raise ValueError(f"unknown signal {name!r}: use TERM or KILL") from None


class Supervisor:
    """Starts, records and stops the services of one lab (runs inside the detached process)."""

    def __init__(self, config: LabConfig):
        self.config = config
        self.dir = config.dir
        self.host = config.host
        self.ports = config.ports.ports
        # Children inherit ATLAS_LAB_INSTANCE from here (see processes.marked_processes).
        self.env = dict(os.environ)
        self.stop_requested = threading.Event()
        self.status = "starting"
        self.error: str | None = None
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.startup_seconds: float | None = None
        self.timings: dict[str, float] = {}
        self.handles: dict[str, ServerHandle] = {}
        self.apps: dict[str, EmulatorApp] = {}
        self.files: dict[str, str] = {}
        self.openbao = OpenBaoServer(self.dir / "openbao", self.host, self.ports["openbao"],
                                     mode=config.openbao_mode, root_token=config.vault_token, env=self.env)
        self.moto = MotoServer(self.dir / "moto", self.host, self.ports["aws"], env=self.env)
        self.alertmanager = AlertmanagerCluster(
            self.dir / "alertmanager", PortAllocator(config.ports.mode, config.ports.base), host=self.host,
            binary=alertmanager_binary(self.env), env=self.env, on_change=self._on_peers_changed,
        )
        self._state_lock = threading.Lock()
        # Each feature's lab support (tests/lab/atlas_lab/scenarios), started once the services run.
        self.scenarios: list[Scenario] = []

    # Lifecycle --------------------------------------------------------------------------------
    def run(self) -> int:
        """Start everything, wait for a stop signal, stop everything. Returns the exit code."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._request_stop)
        started = time.monotonic()
        try:
            self.start()
        except LabError as exc:
            return self._fail(str(exc))
        except ModuleNotFoundError as exc:
            return self._fail(str(missing_package_error({exc.name or "?": exc.name or "?"})))
        except Exception:  # pylint: disable=broad-except
            return self._fail(f"lab: the supervisor failed while starting the lab:\n{traceback.format_exc()}")
        self.startup_seconds = round(time.monotonic() - started, 2)
        self.status = "running"
        self.save_state()
        LOG.info("lab up in %.2f s: %s", self.startup_seconds, self.timings)
        while not self.stop_requested.wait(1.0):
            pass
        self.status = "stopping"
        self.save_state()
        self.stop()
        self.status = "stopped"
        self.save_state()
        return 0

    def _request_stop(self, signum: int, _frame: Any) -> None:
        LOG.info("received %s: stopping the lab", signal.Signals(signum).name)
        self.stop_requested.set()

    def _fail(self, message: str) -> int:
        LOG.error("%s", message)
        self.status = "failed"
        self.error = message
        self.save_state()
        self.stop()
        self.save_state()
        return 1

    def start(self) -> None:
        """Spawn the real servers first (they boot in parallel), serve the emulators meanwhile, then
        wait for every server to be ready."""
        peer_names = [f"alertmanager-{index}" for index in range(self.config.alertmanager_peers)]
        for index, name in enumerate(peer_names):
            self.alertmanager.reserve(name, self.ports[f"alertmanager-{index}-web"],
                                      self.ports[f"alertmanager-{index}-cluster"])
        self.openbao.start()
        self.moto.start()
        self.save_state()
        self.alertmanager.start_peers(peer_names, wait=False)
        self._timed("emulators", self._start_emulators)
        self._timed("openbao", self.openbao.wait_ready)
        self._timed("aws", self.moto.wait_ready)
        self._timed("alertmanager", lambda: self.alertmanager.wait_ready(len(peer_names)))
        for scenario in self.scenarios:
            self._timed(f"ready {scenario.name}", lambda scenario=scenario: scenario.wait_ready(30.0))
        self._timed("files", self._write_files)

    def _timed(self, name: str, step: Callable[[], Any]) -> None:
        started = time.monotonic()
        step()
        self.timings[name] = round(time.monotonic() - started, 3)

    def stop(self) -> None:
        """Stop every emulator and child process; safe to call more than once."""
        started = time.monotonic()
        for server in (self.openbao, self.moto):
            if server.process is not None:
                server.process.send(signal.SIGTERM)
        threads = [threading.Thread(target=self._stop_handle, args=(name,)) for name in list(self.handles)]
        for thread in threads:
            thread.start()
        for scenario in reversed(self.scenarios):
            scenario.stop()
        self.alertmanager.stop_all()
        for thread in threads:
            thread.join()
        self.moto.stop()
        self.openbao.stop()
        LOG.info("stopped in %.2f s", time.monotonic() - started)

    def _stop_handle(self, name: str) -> None:
        handle = self.handles.pop(name, None)
        if handle is None:
            return
        try:
            handle.stop()
        except Exception:  # pylint: disable=broad-except
            LOG.exception("stopping %s", name)

    def reset_services(self) -> None:
        """Return every emulator (faults, counters, state) and moto to their initial state."""
        for app in self.apps.values():
            app.faults.clear()
            app.requests.reset()
            app.reset()
        self.moto.reset()  # before the scenarios: they may seed buckets again
        for scenario in self.scenarios:
            scenario.reset()

    # Emulators --------------------------------------------------------------------------------
    def _start_emulators(self) -> None:
        # Imported here: the CLI checks prerequisites before anything imports third-party code.
        # pylint: disable=import-outside-toplevel
        from atlas_lab.core.tls import write_tls_files
        from atlas_lab.services.keycloak import create_app as create_keycloak
        from atlas_lab.services.kubernetes import create_app as create_kubernetes
        from atlas_lab.services.kubernetes import start as start_kubernetes
        from atlas_lab.services.vault_proxy import create_app as create_vault_proxy

        tls_files = write_tls_files(self.dir / "tls", name="kubernetes")
        self.files["ca"] = str(tls_files.ca_file)
        self._serve("vault_proxy", create_vault_proxy(self.openbao.url))
        self._serve("keycloak", create_keycloak(admin_username=self.config.keycloak_admin_username,
                                                admin_password=self.config.keycloak_admin_password,
                                                legacy_auth_prefix=False))
        # kube-root-ca.crt holds the CA that signed the API server's certificate, as on a real cluster.
        kubernetes = create_kubernetes(token=self.config.kubernetes_token, load_crds=True,
                                       ca_data=tls_files.ca_file.read_text(encoding="utf-8"))
        # start() serves it over HTTPS and writes the kubeconfig (token, lab CA).
        running = self._bind("kubernetes", lambda: start_kubernetes(
            kubernetes, self.dir, host=self.host, port=self.ports["kubernetes"], tls_files=tls_files))
        self.handles["kubernetes"] = running.handle
        self.apps["kubernetes"] = kubernetes
        self.files["kubeconfig"] = str(running.kubeconfig)
        context = ScenarioContext(config=self.config, dir=self.dir, host=self.host, env=self.env,
                                  kubernetes=kubernetes, alertmanager_binary=alertmanager_binary(self.env),
                                  aws_url=self.moto.url,
                                  processes_changed=self._on_peers_changed, openbao=self.openbao)
        for scenario_class in registered_scenarios():
            scenario = scenario_class(context)
            self.scenarios.append(scenario)
            self._timed(f"start {scenario.name}", scenario.start)
        self._serve("control", ControlApp(self), register=False)

    def _serve(self, name: str, app: EmulatorApp, register: bool = True) -> None:
        self.handles[name] = self._bind(name, lambda: serve(app, self.host, self.ports[name]))
        if register:
            self.apps[name] = app

    def _bind(self, name: str, start: Callable[[], Any]) -> Any:
        """Run ``start``; a port taken since ``up`` checked it gets the usual one-line message."""
        try:
            return start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise port_in_use_error(self.config.ports, [name], self.host) from None
            raise

    # Files ------------------------------------------------------------------------------------
    def _write_files(self) -> None:
        self.files["env"] = str(self.dir / ENV_FILE)
        self.files["inventory"] = str(self.dir / INVENTORY_FILE)
        write_env_file(self.dir / ENV_FILE, self.environment())
        write_inventory(self.dir / INVENTORY_FILE, self.config.python, self.connection_vars())

    def environment(self) -> dict[str, str]:
        """What the env file exports: the variables the collection's connection layers read."""
        urls = self.urls()
        return {
            "ATLAS_LAB_DIR": str(self.dir),
            "VAULT_ADDR": urls["vault_proxy"],
            "VAULT_TOKEN": self.openbao.root_token,
            "ATLAS_LAB_OPENBAO_ADDR": urls["openbao"],
            "K8S_AUTH_KUBECONFIG": self.files["kubeconfig"],
            "KUBECONFIG": self.files["kubeconfig"],
            "ATLAS_LAB_CA_FILE": self.files["ca"],
            # The names the collection's Keycloak connection layer reads.
            "KEYCLOAK_URL": urls["keycloak"],
            "KEYCLOAK_REALM": "master",
            "KEYCLOAK_USER": self.config.keycloak_admin_username,
            "KEYCLOAK_PASSWORD": self.config.keycloak_admin_password,
            "AWS_ENDPOINT_URL": urls["aws"],
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "ALERTMANAGER_URLS": ",".join(self.alertmanager.urls()),
            "ATLAS_LAB_VAULT_PROXY_ADMIN_URL": urls["vault_proxy"],
            "ATLAS_LAB_KUBERNETES_ADMIN_URL": urls["kubernetes"],
            "ATLAS_LAB_KEYCLOAK_ADMIN_URL": urls["keycloak"],
            "ATLAS_LAB_AWS_ADMIN_URL": f"{urls['aws']}/moto-api",
            "ATLAS_LAB_CONTROL_URL": urls["control"],
        }

    def connection_vars(self) -> dict[str, Any]:
        """Inventory variables that point the collection's connection options at the lab
        (names as in docs/examples/inventory/group_vars/atlas_control/connections.yml)."""
        urls = self.urls()
        return {
            "atlas_hardening_environment": "lab",
            "atlas_hardening_k8s_kubeconfig": self.files["kubeconfig"],
            "atlas_hardening_vault_url": urls["vault_proxy"],
            "atlas_hardening_vault_auth_method": "token",
            "atlas_hardening_keycloak_url": urls["keycloak"],
            "atlas_hardening_aws_endpoint_url": urls["aws"],
            "atlas_hardening_aws_region": REGION,
            "atlas_hardening_alertmanager_urls": self.alertmanager.urls(),
            **{name: value for scenario in self.scenarios for name, value in scenario.inventory_vars().items()},
        }

    # State ------------------------------------------------------------------------------------
    def urls(self) -> dict[str, str]:
        urls = {name: handle.url for name, handle in self.handles.items()}
        urls["openbao"] = self.openbao.url
        urls["aws"] = self.moto.url
        return urls

    def services(self) -> dict[str, dict[str, Any]]:
        """Every service with its URL, owner process, ports and health URL (the state file's core)."""
        me = {"pid": os.getpid(), "start_time": process_start_time(os.getpid())}
        services: dict[str, dict[str, Any]] = {}
        ordered = ("vault_proxy", "openbao", "kubernetes", "keycloak", "aws", "control")
        descriptions = self.config.ports.descriptions
        for name, handle in self.handles.items():
            services[name] = dict(me, kind="emulator", url=handle.url, admin_url=handle.url,
                                  health_url=f"{handle.url}/_lab/health", ports={"http": handle.port},
                                  description=descriptions[name])
        if "kubernetes" in services:
            services["kubernetes"]["ca_file"] = self.files.get("ca")
        servers: list[tuple[str, OpenBaoServer | MotoServer, str, dict[str, int]]] = [
            ("openbao", self.openbao, "/v1/sys/health", {"http": self.openbao.port, "cluster": self.openbao.cluster_port}),
            ("aws", self.moto, "/moto-api/", {"http": self.moto.port}),
        ]
        for name, server, health, ports in servers:
            process = server.process
            if process is not None and process.pid is not None:
                services[name] = {"kind": "process", "pid": process.pid, "start_time": process.start_time,
                                  "url": server.url, "health_url": server.url + health, "ports": ports,
                                  "description": descriptions[name]}
        if "openbao" in services:
            services["openbao"]["mode"] = self.config.openbao_mode
        if "aws" in services:
            services["aws"]["admin_url"] = f"{self.moto.url}/moto-api"
        peers = [(peer, f"Alertmanager peer {peer.name}") for peer in self.alertmanager.peers()]
        peers += [entry for scenario in self.scenarios for entry in scenario.processes()]
        for peer, description in peers:
            web_port = int(peer.web_url.rsplit(":", 1)[1])
            ports = {"http": web_port}
            if peer.cluster_addr:
                ports["cluster"] = int(peer.cluster_addr.rsplit(":", 1)[1])
            services[peer.name] = {"kind": "process", "pid": peer.pid, "start_time": peer.start_time,
                                   "url": peer.web_url, "health_url": f"{peer.web_url}/-/healthy",
                                   "cluster_addr": peer.cluster_addr, "ports": ports,
                                   "description": description}
        rank = {name: index for index, name in enumerate(ordered)}
        return dict(sorted(services.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))

    def save_state(self) -> None:
        with self._state_lock:
            pid = os.getpid()
            state = {
                "status": self.status,
                "error": self.error,
                "instance": self.config.instance,
                "dir": str(self.dir),
                "host": self.host,
                "supervisor": {"pid": pid, "start_time": process_start_time(pid), "pgid": os.getpgid(0)},
                "started_at": self.started_at,
                "startup_seconds": self.startup_seconds,
                "startup_timings": self.timings,
                "openbao_mode": self.config.openbao_mode,
                "alertmanager_peers": self.config.alertmanager_peers,
                "scenarios": {scenario.name: {"description": scenario.description, "seeds": list(scenario.seeds),
                                              "controllers": list(scenario.controllers)}
                              for scenario in self.scenarios},
                "ports": self.config.ports.to_dict(),
                "services": self.services(),
                "files": dict(self.files, log=str(self.dir / "supervisor.log")),
            }
            write_state(self.dir, state)

    def peer_group(self, name: str) -> Any:
        """The scenario's peer group that runs process ``name``, or None."""
        for scenario in self.scenarios:
            group = scenario.peer_group(name)
            if group is not None:
                return group
        return None

    def _on_peers_changed(self) -> None:
        # Record peers started or stopped at run time (e.g. by a simulated operator) so that `down`
        # and `status` know them; the env file lists the running peers.
        if self.status == "running":
            self.save_state()
            if "kubeconfig" in self.files:
                write_env_file(self.dir / ENV_FILE, self.environment())


def main(lab_dir: Path) -> int:
    """Entry point of ``python -m atlas_lab supervise``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = LabConfig.load(lab_dir)
    try:
        supervisor = Supervisor(config)
    except LabError as exc:
        LOG.error("%s", exc)
        write_state(lab_dir, {"status": "failed", "error": str(exc), "dir": str(lab_dir), "services": {},
                              "instance": config.instance,
                              "supervisor": {"pid": os.getpid(), "start_time": process_start_time(os.getpid()),
                                             "pgid": os.getpgid(0)}})
        return 1
    return supervisor.run()
