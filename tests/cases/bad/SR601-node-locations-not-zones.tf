# The article's fault: a region given as node_locations.
# expect: SR601 line 7: node pool 'workers': node_locations is 'us-central1', not a list of zones (zones of us-central1: us-central1-a, us-central1-b, us-central1-c, us-central1-f)
resource "google_container_node_pool" "workers" {
  name           = "workers"
  cluster        = "ray"
  location       = "us-central1"
  node_locations = "us-central1"

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
      effect = "NO_SCHEDULE"
    }
  }
}
