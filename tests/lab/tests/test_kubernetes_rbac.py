"""RBAC in the Kubernetes API emulator, checked with the real kubectl.

Each case of the table says what kube-apiserver's RBAC authorizer decides, from the upstream
documentation (https://kubernetes.io/docs/reference/access-authn-authz/rbac/): resourceNames never
grant list or create, a RoleBinding to a ClusterRole grants it in the binding's namespace only,
``pods`` does not grant ``pods/log``, aggregated ClusterRoles hold the rules of the roles they select,
non-resource URLs end in ``*`` for a prefix. For every case, three answers must agree with the table:
``kubectl auth can-i --as=system:serviceaccount:...`` (impersonation and SelfSubjectAccessReview, with
kubectl's own resource resolution through discovery), the same request made by kubectl with the
ServiceAccount's token (allowed, or ``Error from server (Forbidden)``), and a SubjectAccessReview.
"""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

NS, OTHER, THIRD = "rbac-a", "rbac-b", "rbac-c"
ACCOUNT = f"system:serviceaccount:{NS}:job"
RBAC_OBJECTS = textwrap.dedent(f"""\
    apiVersion: v1
    kind: Namespace
    metadata: {{name: {NS}}}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {{name: {OTHER}}}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {{name: {THIRD}}}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {{name: job, namespace: {NS}}}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {{name: copies, namespace: {NS}}}
    rules:
    - {{apiGroups: [""], resources: [secrets], resourceNames: [named], verbs: [get, patch]}}
    - {{apiGroups: [""], resources: [events], verbs: [create]}}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {{name: copies, namespace: {NS}}}
    roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: copies}}
    subjects: [{{kind: ServiceAccount, name: job, namespace: {NS}}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {{name: lab-configmap-reader}}
    rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {{name: configmaps, namespace: {OTHER}}}
    roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lab-configmap-reader}}
    subjects: [{{kind: ServiceAccount, name: job, namespace: {NS}}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {{name: lab-pod-logs}}
    rules:
    - {{apiGroups: [""], resources: [pods/log], verbs: [get]}}
    - {{nonResourceURLs: [/metrics, /logs/*], verbs: [get]}}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {{name: lab-pod-logs}}
    roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lab-pod-logs}}
    subjects: [{{kind: Group, name: "system:serviceaccounts:{NS}"}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {{name: lab-aggregated}}
    aggregationRule:
      clusterRoleSelectors: [{{matchLabels: {{lab.example/aggregate-to-job: "true"}}}}]
    rules: []
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata:
      name: lab-deployment-lister
      labels: {{lab.example/aggregate-to-job: "true"}}
    rules: [{{apiGroups: [apps], resources: [deployments], verbs: [list]}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {{name: lab-aggregated}}
    roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lab-aggregated}}
    subjects: [{{kind: ServiceAccount, name: job, namespace: {NS}}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {{name: lab-namespace-reader}}
    rules: [{{apiGroups: [""], resources: [namespaces], verbs: [get]}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {{name: namespace-reader, namespace: {OTHER}}}
    roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lab-namespace-reader}}
    subjects: [{{kind: ServiceAccount, name: job, namespace: {NS}}}]
    ---
    apiVersion: v1
    kind: Secret
    metadata: {{name: named, namespace: {NS}}}
    stringData: {{key: value}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {{name: other, namespace: {NS}}}
    stringData: {{key: value}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {{name: named, namespace: {OTHER}}}
    stringData: {{key: value}}
    """)
EVENT = json.dumps({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "job.1", "namespace": NS},
                    "involvedObject": {"kind": "Secret", "name": "named", "namespace": NS},
                    "reason": "Rotated", "message": "m", "type": "Normal"})

# (can-i arguments, the same request made by kubectl, what RBAC decides)
CASES = [
    (["get", "secrets/named", "-n", NS], ["get", "secret", "named", "-n", NS], True),
    (["patch", "secrets/named", "-n", NS], ["patch", "secret", "named", "-n", NS, "-p", '{"data":{}}'], True),
    (["get", "secrets/other", "-n", NS], ["get", "secret", "other", "-n", NS], False),
    (["list", "secrets", "-n", NS], ["get", "secrets", "-n", NS], False),  # resourceNames never grant list
    (["create", "secrets", "-n", NS], ["create", "secret", "generic", "x", "-n", NS], False),
    (["get", "secrets/named", "-n", OTHER], ["get", "secret", "named", "-n", OTHER], False),
    (["create", "events", "-n", NS], ["create", "-f", "-"], True),
    (["delete", "events", "-n", NS], ["delete", "events", "--all", "-n", NS], False),
    (["get", "configmaps", "-n", OTHER], ["get", "configmap", "kube-root-ca.crt", "-n", OTHER], True),
    (["get", "configmaps", "-n", NS], ["get", "configmap", "kube-root-ca.crt", "-n", NS], False),
    (["list", "deployments.apps", "-n", THIRD], ["get", "deployments", "-n", THIRD], True),  # aggregated
    (["list", "deployments.apps", "--all-namespaces"], ["get", "deployments", "--all-namespaces"], True),
    (["get", "pods", "-n", THIRD], ["get", "pod", "p", "-n", THIRD], False),
    (["create", "namespaces"], ["create", "namespace", "intruder"], False),
    # A Namespace is in its own namespace: a RoleBinding there grants on the Namespace object itself.
    (["get", f"namespaces/{OTHER}", "-n", OTHER], ["get", "namespace", OTHER], True),
    (["get", f"namespaces/{THIRD}", "-n", THIRD], ["get", "namespace", THIRD], False),
    (["list", "namespaces"], ["get", "namespaces"], False),
    (["get", "/metrics"], ["get", "--raw", "/metrics"], True),
    (["get", "/logs/kube-apiserver.log"], ["get", "--raw", "/logs/kube-apiserver.log"], True),
    (["get", "/debug/pprof/"], ["get", "--raw", "/debug/pprof/"], False),
    (["get", "/version"], ["get", "--raw", "/version"], True),  # system:discovery, bound to everyone
]


@pytest.fixture
def account_token(k8s) -> str:
    k8s.kubectl("apply", "-f", "-", stdin=RBAC_OBJECTS)
    k8s.wait_idle()  # the aggregation controller fills lab-aggregated
    return k8s.kubectl("create", "token", "job", "-n", NS).stdout.strip()


@pytest.mark.parametrize(("can_i", "request_args", "allowed"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_can_i_and_the_request_agree_with_rbac(k8s, account_token, can_i, request_args, allowed) -> None:
    answer = k8s.kubectl("auth", "can-i", *can_i, f"--as={ACCOUNT}", check=False)
    assert (answer.stdout.strip(), answer.returncode) == (("yes", 0) if allowed else ("no", 1)), answer
    done = k8s.kubectl(f"--token={account_token}", *request_args, check=False,
                       stdin=EVENT if request_args[:2] == ["create", "-f"] else None)
    refused = "forbidden: User" in done.stderr  # also kubectl create secret's own "failed to create" wording
    assert refused is not allowed, done


def test_subject_access_review_gives_the_same_answers(k8s, account_token) -> None:
    def review(attributes: dict) -> dict:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": ACCOUNT, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NS}",
                                                     "system:authenticated"], **attributes}}
        created = k8s.kubectl("create", "--raw", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "-f", "-",
                              stdin=json.dumps(body))
        return json.loads(created.stdout)["status"]

    named = review({"resourceAttributes": {"verb": "get", "resource": "secrets", "name": "named", "namespace": NS}})
    assert named == {"allowed": True, "reason": f'RBAC: allowed by RoleBinding "copies/{NS}" of Role "copies" to '
                                                f'ServiceAccount "job/{NS}"'}
    assert review({"resourceAttributes": {"verb": "get", "resource": "secrets", "name": "other",
                                          "namespace": NS}}) == {"allowed": False}
    assert review({"nonResourceAttributes": {"verb": "get", "path": "/metrics"}})["allowed"] is True


def test_a_refusal_reads_as_kube_apiserver_writes_it(k8s, account_token) -> None:
    denied = k8s.kubectl(f"--token={account_token}", "get", "secret", "other", "-n", NS, check=False)
    assert denied.stderr.strip() == (f'Error from server (Forbidden): secrets "other" is forbidden: User "{ACCOUNT}" '
                                     f'cannot get resource "secrets" in API group "" in the namespace "{NS}"')
    namespace = k8s.kubectl(f"--token={account_token}", "delete", "namespace", THIRD, check=False)
    assert namespace.stderr.strip() == (
        f'Error from server (Forbidden): namespaces "{THIRD}" is forbidden: User "{ACCOUNT}" cannot delete resource '
        f'"namespaces" in API group "" in the namespace "{THIRD}"')
    path = k8s.kubectl(f"--token={account_token}", "get", "--raw", "/debug/pprof/", check=False)
    assert path.stderr.strip() == (f'Error from server (Forbidden): forbidden: User "{ACCOUNT}" cannot get path '
                                   '"/debug/pprof/"'), path


def test_only_an_allowed_caller_may_impersonate(k8s, account_token) -> None:
    """The admin (system:masters) impersonates; the ServiceAccount may not, so --as is no way around RBAC."""
    refused = k8s.kubectl(f"--token={account_token}", "get", "secret", "other", "-n", NS,
                          "--as=system:serviceaccount:kube-system:default", check=False)
    assert ('serviceaccounts "default" is forbidden: User "system:serviceaccount:rbac-a:job" cannot impersonate '
            'resource "serviceaccounts" in API group "" in the namespace "kube-system"') in refused.stderr, refused
    as_group = k8s.kubectl("auth", "can-i", "create", "namespaces", "--as=someone", "--as-group=system:masters")
    assert as_group.stdout.strip() == "yes"


def test_can_i_list_shows_the_rules_of_the_namespace(k8s, account_token) -> None:
    listed = k8s.kubectl("auth", "can-i", "--list", "-n", NS, f"--as={ACCOUNT}").stdout
    rows = {" ".join(line.split()) for line in listed.splitlines()}
    assert "secrets [] [named] [get patch]" in rows, listed
    assert "events [] [] [create]" in rows and "deployments.apps [] [] [list]" in rows, listed
    assert "[/metrics] [] [get]" in rows, listed
    assert not any(row.startswith("configmaps ") for row in rows), listed  # granted in rbac-b only


def test_aggregated_roles_follow_the_roles_they_select(k8s, account_token) -> None:
    k8s.kubectl("label", "clusterrole", "lab-deployment-lister", "lab.example/aggregate-to-job-")
    k8s.wait_idle()
    assert json.loads(k8s.kubectl("get", "clusterrole", "lab-aggregated", "-o", "json").stdout).get("rules") in (None, [])
    answer = k8s.kubectl("auth", "can-i", "list", "deployments.apps", "-n", THIRD, f"--as={ACCOUNT}", check=False)
    assert answer.stdout.strip() == "no"
    view = json.loads(k8s.kubectl("get", "clusterrole", "admin", "-o", "json").stdout)["rules"]
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create", "delete",
                                                                   "deletecollection", "patch", "update"]} in view


def test_a_token_for_another_audience_is_no_key_to_the_api(k8s, account_token) -> None:
    """kube-apiserver accepts only tokens meant for it: one bound to Vault's audience is refused (401)."""
    vault_token = k8s.kubectl("create", "token", "job", "-n", NS, "--audience=vault").stdout.strip()
    refused = k8s.kubectl(f"--token={vault_token}", "get", "secret", "named", "-n", NS, check=False)
    assert "error: You must be logged in to the server (Unauthorized)" in refused.stderr, refused
    assert k8s.kubectl(f"--token={account_token}", "get", "secret", "named", "-n", NS, check=False).returncode == 0


def test_a_legacy_token_secret_is_filled_and_authenticates_while_it_exists(k8s, account_token) -> None:
    k8s.kubectl("apply", "-f", "-", stdin=textwrap.dedent(f"""\
        apiVersion: v1
        kind: Secret
        metadata:
          name: job-token
          namespace: {NS}
          annotations: {{kubernetes.io/service-account.name: job}}
        type: kubernetes.io/service-account-token
        """))
    k8s.wait_idle()
    secret = json.loads(k8s.kubectl("get", "secret", "job-token", "-n", NS, "-o", "json").stdout)
    assert set(secret["data"]) == {"token", "ca.crt", "namespace"}
    uid = json.loads(k8s.kubectl("get", "serviceaccount", "job", "-n", NS, "-o", "json").stdout)["metadata"]["uid"]
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid
    token = base64.b64decode(secret["data"]["token"]).decode()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == "kubernetes/serviceaccount" and "exp" not in claims
    # Same identity and rights as the account's bound tokens...
    assert k8s.kubectl(f"--token={token}", "get", "secret", "named", "-n", NS).returncode == 0
    assert "forbidden: User" in k8s.kubectl(f"--token={token}", "get", "secret", "other", "-n", NS,
                                            check=False).stderr
    review = json.loads(k8s.kubectl("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-",
                                    stdin=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                                      "spec": {"token": token}})).stdout)
    assert review["status"]["authenticated"] is True and review["status"]["user"]["username"] == ACCOUNT
    # ...until the Secret is deleted.
    k8s.kubectl("delete", "secret", "job-token", "-n", NS)
    gone = k8s.kubectl(f"--token={token}", "get", "secret", "named", "-n", NS, check=False)
    assert "(Unauthorized)" in gone.stderr, gone
