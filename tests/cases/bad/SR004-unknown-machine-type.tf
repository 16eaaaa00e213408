# A misspelt machine type: a warning, and the fit rules skip the pool (never bad input).
# expect: SR004 line 15: node pool 'workers': unknown machine type 'n2-standrad-8'; fit, packing and capacity were not checked for it
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
    machine_type    = "n2-standrad-8"
    spot            = true
    service_account = "ray-nodes@my-project.iam.gserviceaccount.com"
    shielded_instance_config {
      enable_secure_boot = true
    }
    taint {
      key    = "dedicated"
      value  = "workers"
      effect = "NO_SCHEDULE"
    }
  }
}
