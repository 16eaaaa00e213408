# Per-zone and total limits together, and a location policy the provider does not know.
# expect: SR603 line 10: node pool 'workers': location_policy 'ANYWHERE' is not BALANCED or ANY
# expect: SR603 line 10: node pool 'workers': per-zone and total autoscaling bounds are mutually exclusive
resource "google_container_node_pool" "workers" {
  name           = "workers"
  cluster        = "ray"
  location       = "us-central1"
  node_locations = ["us-central1-a", "us-central1-b"]

  autoscaling {
    max_node_count       = 5
    total_max_node_count = 10
    location_policy      = "ANYWHERE"
  }

  node_config {
    machine_type = "e2-standard-4"
    spot         = true
    disk_size_gb = 100
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }
  }
}
