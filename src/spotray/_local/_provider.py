"""spotray's node provider for Ray's autoscaler: a thin HTTP client of the emulated cloud.

Ray's monitor loads it from the cluster config (`provider.type: external`,
`provider.module: spotray._local._provider.LocalSpotProvider`); autoscaler v2 wraps it. Like a
real cloud provider it only asks the cloud for instances and reports what the cloud says:
launches the cloud accepts during a stockout are listed but not running until capacity returns
(with `stockout_mode="refuse"` they raise, and the autoscaler retries them later).
"""

from __future__ import annotations

import threading

from ._http import call
from ._raybridge import node_provider_base, tags

_t = tags()


class LocalSpotProvider(node_provider_base()):
    def __init__(self, provider_config: dict, cluster_name: str) -> None:
        super().__init__(provider_config, cluster_name)
        self._url = provider_config["controller"].rstrip("/")
        # the controller's secret, from the state directory (0700) rather than the config
        with open(provider_config["secret_file"]) as handle:
            self._secret = handle.read().strip()
        self._lock = threading.Lock()
        self._cache: dict[str, dict] = {}

    def _refresh(self) -> dict[str, dict]:
        listing = self._call("/instances")
        with self._lock:
            self._cache = {i["id"]: i for i in listing if i["state"] != "terminated"}
            return dict(self._cache)

    def _call(self, path: str, method: str = "GET", body: dict | None = None):
        return call(f"{self._url}{path}", method, body, secret=self._secret)

    def non_terminated_nodes(self, tag_filters: dict) -> list[str]:
        nodes = self._refresh()
        return [
            node_id
            for node_id, inst in nodes.items()
            if all(inst["tags"].get(k) == v for k, v in tag_filters.items())
        ]

    def is_running(self, node_id: str) -> bool:
        inst = self._cache.get(node_id)
        return inst is not None and inst["state"] in ("running", "stopping")

    def is_terminated(self, node_id: str) -> bool:
        return node_id not in self._cache

    def node_tags(self, node_id: str) -> dict:
        inst = self._cache.get(node_id)
        return dict(inst["tags"]) if inst else {}

    def external_ip(self, node_id: str) -> str:
        return node_id

    def internal_ip(self, node_id: str) -> str:
        return node_id

    def set_node_tags(self, node_id: str, new_tags: dict) -> None:
        self._call(f"/instances/{node_id}/tags", "POST", new_tags)

    def create_node(self, node_config: dict, tags: dict, count: int):
        return self.create_node_with_resources_and_labels(node_config, tags, count, {}, {})

    def create_node_with_resources_and_labels(self, node_config, tags, count, resources, labels):
        group = tags[_t.TAG_RAY_USER_NODE_TYPE]
        created = self._call("/instances", "POST", {"group": group, "count": count, "tags": tags})
        return {node_id: {} for node_id in created}

    def terminate_node(self, node_id: str) -> None:
        self._call(f"/instances/{node_id}", "DELETE")

    @staticmethod
    def bootstrap_config(cluster_config: dict) -> dict:
        return cluster_config
