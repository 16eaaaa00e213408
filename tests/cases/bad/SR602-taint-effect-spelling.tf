# A taint effect in Kubernetes spelling: the provider wants NO_SCHEDULE.
# expect: SR602 line 19: node pool 'workers': taint effect 'NoSchedule' is not one of NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE
resource "google_container_node_pool" "workers" {
  name           = "workers"
  cluster        = "ray"
  location       = "us-central1"
  node_locations = ["us-central1-a", "us-central1-b"]

  autoscaling {
    total_min_node_count = 0
    total_max_node_count = 10
    location_policy      = "ANY"
  }

  node_config {
    machine_type = "e2-standard-4"
    spot         = true
    disk_size_gb = 100
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NoSchedule"
    }
  }
}
