# A node pool without Secure Boot (the provider's default is off).
# expect: SR707 line 15: node pool 'workers': Secure Boot is off
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
    machine_type    = "n2-standard-8"
    spot            = true
    disk_size_gb    = 100
    service_account = google_service_account.ray_nodes.email

    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}
