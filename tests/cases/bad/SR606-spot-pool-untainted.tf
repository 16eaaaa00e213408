# A Spot pool without a taint: on Standard clusters any Pod can land there.
# expect: SR606 line 15: node pool 'workers' is Spot but has no NoSchedule taint
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
  }
}
