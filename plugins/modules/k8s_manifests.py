#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_manifests
short_description: Apply or delete a set of Kubernetes manifests with server-side apply
version_added: 0.1.0
description:
  - Applies a set of manifests in one call with server-side apply under a field manager, in order
    (Namespaces, then CustomResourceDefinitions, which are waited for until Established, then the
    rest), or deletes them in reverse order.
  - Writes nothing when nothing would change. The module reads the live objects (one request per
    kind and namespace) and decides locally when they already hold the applied values and the field
    manager owns exactly the applied fields; when it cannot tell, a dry-run apply does. Only objects
    that change are written.
  - Check mode sends dry-run requests only, so the API server validates the objects without storing them.
  - The diff (with C(--diff)) never shows the values of a Secret, only whether each one changes.
  - Fields the API server does not know are errors (O(field_validation=Strict)), not silently dropped.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_kubernetes
attributes:
  check_mode:
    details: Sends dry-run requests (C(dryRun=All)); the API server validates, nothing is stored.
  diff_mode:
    details: Returns the before and after state of each changed object; Secret values are hidden.
  idempotent:
    details: A second apply of the same manifests sends no write (changes are detected locally first).
options:
  manifests:
    description:
      - The objects to apply, each a mapping with C(apiVersion), C(kind) and C(metadata.name).
      - Items of C(kind=List) are applied one by one.
      - Exactly one of O(manifests), O(definition) and O(src) is required.
    type: list
    elements: dict
  definition:
    description:
      - The objects as YAML text; several documents separated by C(---) are allowed.
    type: str
  src:
    description:
      - Path of a YAML file holding the objects (several documents allowed), on the host that runs the module.
    type: path
  namespace:
    description:
      - Namespace for namespaced objects that do not name one. Without it, such an object is an error.
    type: str
  state:
    description:
      - V(present) applies the objects; V(absent) deletes those that exist.
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description:
      - Name of the field manager that owns the applied fields. Use one name per owner of a set of
        fields (a role, a rotation job) so that two owners do not take fields from each other silently.
    type: str
    default: atlas-hardening
  force_conflicts:
    description:
      - Take over fields that another field manager owns with a different value.
      - When V(false), such a conflict is an error naming the fields and their owner.
    type: bool
    default: false
  field_validation:
    description:
      - What the API server does with fields it does not know.
      - V(Strict) rejects the object, V(Warn) drops the field and returns a warning, V(Ignore) drops it silently.
    type: str
    choices: [Strict, Warn, Ignore]
    default: Strict
  update_only:
    description:
      - Kinds (for example V(Alertmanager)) whose objects are only ever updated, never created. A missing
        object of these kinds is an error before anything is written.
      - The apply carries the C(resourceVersion) read just before, so that an object deleted meanwhile is
        not re-created (the API server refuses) and one changed meanwhile is read again (up to 3 times).
      - For objects another tool owns, such as a Helm release's custom resource, where a wrong name must fail, not make a
        second object.
    type: list
    elements: str
    default: []
  create_only:
    description:
      - Kinds (for example V(Namespace)) whose objects are created when missing and left exactly as they are
        when they exist (no field of the manifest is applied to an existing object).
      - For an object that this set brings only if nobody else did, such as the namespace of a job.
    type: list
    elements: str
    default: []
  validate_first:
    description:
      - How every object that would change is validated before the first write, so that a set with an object
        the API server would refuse writes nothing; the error then lists every refused object.
      - V(schema) checks each object against the OpenAPI v3 schema the API server publishes (fields it does not
        know with O(field_validation=Strict), JSON types, required fields of new objects; for custom resources
        also enums, bounds and lengths). The documents are fetched once per group version and cached in
        C($XDG_CACHE_HOME/atlas-hardening/openapi-v3) (C(~/.cache) by default) by their content hash, so
        validation costs one request per run, not one per object. Semantic validation (a selector that does not
        match the template) and admission webhooks are not in a schema; a refusal of that kind still happens
        part-way, and the error lists what was written before it.
      - V(dry_run) sends each object as a server-side dry run first, which the API server validates exactly as
        the write (semantics, admission, RBAC included), at the cost of one more request per new object.
      - V(none) writes directly.
      - Done per level, Namespaces and CustomResourceDefinitions first; objects in a Namespace or of a
        CustomResourceDefinition that the set creates are validated once that level is written. A level with a
        single object to write is not validated first (its write is its validation).
    type: str
    choices: [schema, dry_run, none]
    default: schema
  concurrency:
    description:
      - How many requests may be in flight at once within a level (the reads of the live objects, the dry runs,
        the writes), over the run's pooled connections. V(1) sends them one after the other.
      - Results and the diff stay in the manifests' order. When a write fails, no new one starts, the ones in
        flight finish, and the error lists every object written.
    type: int
    default: 4
  prune:
    description:
      - Delete the objects of O(prune.kinds) that carry the labels of O(prune.selector) but are not in this
        set, in every namespace, that is what the set rendered before and no longer does (a Role of a namespace
        that the set stopped using). Ownership is recorded on the objects by their labels, never in a local file.
      - Only with O(state=present), after every object of the set is applied. Check mode reports what
        would be pruned (dry-run deletes).
    type: dict
    suboptions:
      selector:
        description: The label selector that marks the objects this set owns, for example
          C(app.kubernetes.io/managed-by=atlas.hardening,app.kubernetes.io/instance=keycloak-admin-rotation).
        type: str
        required: true
      kinds:
        description: The kinds to prune.
        type: list
        elements: dict
        required: true
        suboptions:
          api_version:
            description: The kind's apiVersion.
            type: str
            required: true
          kind:
            description: The kind.
            type: str
            required: true
  wait:
    description:
      - Wait until the objects are ready (O(state=present)) or gone (O(state=absent)).
      - Ready means Available with every replica updated for a Deployment, every replica ready for
        a StatefulSet or DaemonSet, Complete for a Job, Ready for a Pod, Established for a
        CustomResourceDefinition, Active for a Namespace, and existing for other kinds.
      - Not done in check mode.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait in total, for O(wait) and for new CustomResourceDefinitions to be Established.
    type: int
    default: 120
  wait_condition:
    description:
      - With O(wait=true), a condition to wait for instead of the default readiness.
      - Give either O(wait_condition.type) (and O(wait_condition.status)) or O(wait_condition.field) and
        O(wait_condition.value).
    type: dict
    suboptions:
      type:
        description:
          - Type of a C(status.conditions) entry, for example V(Available) or V(Ready).
        type: str
      status:
        description:
          - Status the condition must have.
        type: str
        choices: ["True", "False", "Unknown"]
        default: "True"
      reason:
        description:
          - Reason the condition must have, if set.
        type: str
      field:
        description:
          - Path of a field, for example V(status.phase), V(status.readyReplicas) or
            V(status.loadBalancer.ingress[0].ip).
        type: str
      value:
        description:
          - Value O(wait_condition.field) must have (compared as text).
        type: raw
      kind:
        description:
          - Apply the condition to objects of this kind only; the others use the default readiness.
        type: str
seealso:
  - name: Server-side apply
    description: How field ownership and conflicts work.
    link: https://kubernetes.io/docs/reference/using-api/server-side-apply/
"""

EXAMPLES = r"""
- name: Harden the monitoring namespace
  atlas.hardening.k8s_manifests:
    k8s_kubeconfig: /etc/atlas/kubeconfig
    namespace: monitoring
    manifests:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: monitoring
          labels:
            pod-security.kubernetes.io/enforce: restricted
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: default-deny
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]

- name: Apply a multi-document file and wait until it is ready
  atlas.hardening.k8s_manifests:
    src: "{{ role_path }}/files/velero.yaml"
    wait: true
    wait_timeout: 300

- name: Set the connection once for several tasks
  module_defaults:
    group/atlas.hardening.kubernetes:
      k8s_kubeconfig: "{{ lookup('ansible.builtin.env', 'HOME') }}/.kube/platform"
      k8s_context: production
  block:
    - name: Store a credential (its value never appears in the output or the diff)
      atlas.hardening.k8s_manifests:
        field_manager: atlas-rotation
        definition: |
          apiVersion: v1
          kind: Secret
          metadata:
            name: grafana-admin
            namespace: monitoring
          type: Opaque
          stringData:
            password: "{{ grafana_admin_password }}"

    - name: Wait for a custom condition
      atlas.hardening.k8s_manifests:
        manifests: "{{ velero_backup_location }}"
        wait: true
        wait_condition:
          field: status.phase
          value: Available

- name: Remove a legacy object
  atlas.hardening.k8s_manifests:
    state: absent
    manifests:
      - apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: legacy-cluster-admin
"""

RETURN = r"""
results:
  description:
    - One entry per object, in the order the objects were applied (or deleted).
  returned: always
  type: list
  elements: dict
  contains:
    apiVersion:
      description: API version of the object.
      type: str
      sample: apps/v1
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    namespace:
      description: Namespace of the object; null for cluster-scoped objects.
      type: str
      sample: monitoring
    name:
      description: Name of the object.
      type: str
      sample: grafana
    action:
      description:
        - V(created), V(updated), V(unchanged) or V(deleted); in check mode, what would happen.
      type: str
      sample: updated
    warnings:
      description: Warnings from the API server (deprecations, dropped fields) or about the manifest.
      type: list
      elements: str
      sample: []
  sample:
    - apiVersion: v1
      kind: Namespace
      namespace: null
      name: monitoring
      action: unchanged
      warnings: []
api_requests:
  description: Number of requests sent to the API server, per HTTP method.
  returned: always
  type: dict
  sample: {"GET": 3, "PATCH": 2}
diff:
  description:
    - With C(--diff), the before and after state of each changed object, without bookkeeping metadata
      (managedFields, resourceVersion) and status.
    - "Secret values are replaced by V(<hidden: unchanged>), V(<hidden: old value>) or V(<hidden: new value>)."
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: Secret monitoring/grafana-admin
      after_header: Secret monitoring/grafana-admin
      before: {"data": {"password": "<hidden: old value>"}}
      after: {"data": {"password": "<hidden: new value>"}}
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.apply import (
    DEFAULT_CONCURRENCY,
    FIELD_VALIDATION_CHOICES,
    VALIDATE_FIRST_CHOICES,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.k8s_manifests_task import (
    apply_manifests_task,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import DEFAULT_FIELD_MANAGER

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    manifests=dict(type="list", elements="dict"),
    definition=dict(type="str"),
    src=dict(type="path"),
    namespace=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    field_manager=dict(type="str", default=DEFAULT_FIELD_MANAGER),
    force_conflicts=dict(type="bool", default=False),
    field_validation=dict(type="str", choices=list(FIELD_VALIDATION_CHOICES), default="Strict"),
    update_only=dict(type="list", elements="str", default=[]),
    create_only=dict(type="list", elements="str", default=[]),
    validate_first=dict(type="str", choices=list(VALIDATE_FIRST_CHOICES), default="schema"),
    concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
    prune=dict(type="dict", options=dict(
        selector=dict(type="str", required=True),
        kinds=dict(type="list", elements="dict", required=True, options=dict(
            api_version=dict(type="str", required=True),
            kind=dict(type="str", required=True),
        )),
    )),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=120),
    wait_condition=dict(type="dict", options=dict(
        type=dict(type="str"),
        status=dict(type="str", choices=["True", "False", "Unknown"], default="True"),
        reason=dict(type="str"),
        field=dict(type="str"),
        value=dict(type="raw"),
        kind=dict(type="str"),
    )),
)


def main() -> None:
    HardeningModule(
        ARGUMENT_SPEC, connections=("kubernetes",),
        mutually_exclusive=[("manifests", "definition", "src")],
        required_one_of=[("manifests", "definition", "src")],
    ).run(apply_manifests_task)


if __name__ == "__main__":
    main()
