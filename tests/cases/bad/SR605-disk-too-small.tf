# An 8 GB boot disk: GKE needs at least 10 GB.
# expect: SR605 line 18: node pool 'workers': disk_size_gb 8 is below 10
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
    disk_size_gb = 8
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }
  }
}
