# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening (other collections must not import it):
the Kubernetes API: options, configuration (kubeconfig, credentials), transport, discovery, objects,
apply, changes, diff, wait, events.
"""
