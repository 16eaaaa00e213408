# A T4 on an E2 machine: E2 takes no GPUs.
# expect: SR604 line 19: node pool 'workers': nvidia-tesla-t4 attaches only to N1 machine types, not to e2-standard-4
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
    guest_accelerator {
      type  = "nvidia-tesla-t4"
      count = 1
    }
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }
  }
}
